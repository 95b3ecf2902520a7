//! TODO: master
