// ssso is a binary crate: the fuzz targets compile the parsers' own source files as modules.
#[allow(dead_code)]
#[path = "../../src/ui.rs"]
mod ui;
#[allow(dead_code)]
#[path = "../../src/token.rs"]
mod token;
#[allow(dead_code)]
#[path = "../../src/awsconfig.rs"]
mod awsconfig;
