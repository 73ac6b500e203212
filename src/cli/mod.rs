//! The commands behind `pfslab`: everything that prints lives here.

pub mod spool;
