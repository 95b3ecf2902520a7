//! TODO: login
