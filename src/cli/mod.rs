//! clap definition.
