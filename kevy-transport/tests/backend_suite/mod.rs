//! The transport's test suite, generic over the backend: every test is a
//! `fn<L: ShardLoop>()` that runs real loops of backend `L` on 127.0.0.1
//! with a small line-protocol core ([`line_handler`]) and blocking clients
//! ([`harness`]). A backend's test file (`tests/mio.rs`, `tests/polling.rs`,
//! ...) instantiates the whole suite for its loop type with
//! [`backend_tests!`], so a new backend adds one file.

pub mod connections;
pub mod flow;
pub mod harness;
pub mod line_handler;
pub mod wakeups;

/// Declares one `#[test]` per suite test, run on the loop type `$loop`.
#[macro_export]
macro_rules! backend_tests {
    ($loop:ty) => {
        $crate::backend_tests!(@tests $loop;
            connections::accepts_on_every_loop_sharing_a_port,
            connections::reads_a_request_sent_one_byte_at_a_time,
            connections::delivers_replies_after_the_peer_half_closes,
            connections::sees_the_end_of_input_that_arrives_with_the_data,
            connections::closes_after_the_output_when_the_core_asks,
            connections::survives_connections_reset_by_the_peer,
            connections::stop_requested_ends_run,
            flow::writes_a_large_reply_to_a_slow_reader,
            flow::keeps_serving_others_while_a_peer_never_reads,
            wakeups::wakes_a_sleeping_loop,
            wakeups::wakes_racing_with_parking_are_not_lost,
            wakeups::wakes_for_the_handlers_deadline,
        );
    };
    (@tests $loop:ty; $($module:ident :: $test:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                $crate::backend_suite::$module::$test::<$loop>();
            }
        )*
    };
}
