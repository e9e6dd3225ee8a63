//! The backend suite (`backend_suite/`) run on the polling backend.
#![cfg(feature = "polling")]

mod backend_suite;

backend_tests!(kevy_transport::polling_backend::PollingLoop);
