//! Persistence of kevy (being built): snapshot and append-only log codecs.
