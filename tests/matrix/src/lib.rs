//! Backend-agnostic integration suite against the real kevy binary.
