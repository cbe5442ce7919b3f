//! s-nail conformance (filled by the fixtures work).
