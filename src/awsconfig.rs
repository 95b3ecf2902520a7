//! TODO: awsconfig
