//! `rmail serve`: listeners (bind, drop root, one tokio task per connection, TLS, timeouts)
//! around the protocol cores of [`crate::proto`]. (being written)
