//! Native tests of the pure core: the machine's rules as tables (`machine`), and properties of
//! the parsers and of the machine under random input sequences (`properties`). The parsers' own
//! example tests sit beside them; the browser suites are in `tests/`.

mod machine;
mod properties;
