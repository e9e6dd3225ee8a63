//! The backend suite (`backend_suite/`) run on the mio backend.
#![cfg(feature = "mio")]

mod backend_suite;

backend_tests!(kevy_transport::mio_backend::MioLoop);
