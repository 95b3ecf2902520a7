//! The local half of a sync, for every command that syncs.
