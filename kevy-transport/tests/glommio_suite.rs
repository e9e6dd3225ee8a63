//! The backend suite (`backend_suite/`) run on the glommio backend (its
//! own further tests are in `glommio.rs`).
#![cfg(all(feature = "glommio", target_os = "linux"))]

mod backend_suite;

backend_tests!(kevy_transport::glommio_backend::GlommioLoop);
