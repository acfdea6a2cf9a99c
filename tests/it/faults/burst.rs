//! The burst of `proxy_burst`, alone on the machine at the node's default command timeout
//! (250 ms): on a standalone Redis and on a 3-master Cluster, 200 proxied calls at once are all
//! answered, none 503. (`stalls` shows a Redis that answers nothing still answers 503 at once.)

use quota_gateway::surface::store::RedisMode;

use crate::proxy_burst::two_hundred_at_once;
use crate::support::redis::{Target, TestCluster, TestRedis};

/// `QG_COMMAND_TIMEOUT_MS`'s default.
const DEFAULT_COMMAND_TIMEOUT_MS: u64 = 250;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn two_hundred_calls_at_once_on_a_standalone_redis_at_the_default_timeout_answer_none_503() {
    let own = TestRedis::start();
    two_hundred_at_once(&own.target(), Some(DEFAULT_COMMAND_TIMEOUT_MS)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a fault test: scripts/test runs these alone, serially"]
async fn two_hundred_calls_at_once_on_a_cluster_at_the_default_timeout_answer_none_503() {
    let cluster = TestCluster::start();
    let target = Target {
        url: cluster.url(),
        mode: RedisMode::Cluster,
    };
    two_hundred_at_once(&target, Some(DEFAULT_COMMAND_TIMEOUT_MS)).await;
}
