//! `rmail fetch` (placeholder; see issue 6).
