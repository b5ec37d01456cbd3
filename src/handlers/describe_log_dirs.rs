//! DescribeLogDirs: per log directory, the size of each hosted partition
//! and the directory's total and usable bytes.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};

use super::{str_bytes, HandlerError, RequestContext};

pub async fn handle(
    ctx: &RequestContext,
    req: DescribeLogDirsRequest,
) -> Result<Option<DescribeLogDirsResponse>, HandlerError> {
    let broker = &ctx.broker;
    let wanted: Option<BTreeMap<String, Vec<i32>>> = req
        .topics
        .map(|ts| ts.into_iter().map(|t| (t.topic.0.to_string(), t.partitions)).collect());
    let mut resp = DescribeLogDirsResponse::default();
    for dir in broker.replicas.log_dirs() {
        let mut result = DescribeLogDirsResult::default();
        result.log_dir = str_bytes(std::path::absolute(dir).unwrap_or(dir.clone()).display().to_string());
        let (total, usable) = disk_space(dir);
        result.total_bytes = total;
        result.usable_bytes = usable;
        let mut topics: BTreeMap<String, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
        for part in broker.replicas.all() {
            if !part.dir().starts_with(dir) {
                continue;
            }
            if let Some(w) = &wanted {
                if !w.get(&part.topic).is_some_and(|ps| ps.contains(&part.index)) {
                    continue;
                }
            }
            let mut p = DescribeLogDirsPartition::default();
            p.partition_index = part.index;
            p.partition_size = part.offsets().size_bytes as i64;
            topics.entry(part.topic.clone()).or_default().push(p);
        }
        result.topics = topics
            .into_iter()
            .map(|(name, mut partitions)| {
                partitions.sort_by_key(|p| p.partition_index);
                let mut t = DescribeLogDirsTopic::default();
                t.name = TopicName(str_bytes(name));
                t.partitions = partitions;
                t
            })
            .collect();
        resp.results.push(result);
    }
    Ok(Some(resp))
}

/// (total, usable) bytes of the file system holding `dir`; -1 if unknown.
fn disk_space(dir: &std::path::Path) -> (i64, i64) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return (-1, -1);
    };
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid NUL-terminated string and `stat` a valid out-pointer.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return (-1, -1);
    }
    let frsize = stat.f_frsize as i64;
    (stat.f_blocks as i64 * frsize, stat.f_bavail as i64 * frsize)
}
