//! Closed sets of values a user picks by name (`--store root`, `--blob minimal`).
//! Each set is one table here in the library; the command layer builds its parser
//! and its `--help` from that table, so the two cannot drift apart.

/// A value picked by name from a fixed list.
pub trait Named: Sized + Copy + Send + Sync + 'static {
    /// Every value, in the order `--help` lists them.
    const ALL: &'static [Self];
    /// The name the user types.
    fn name(self) -> &'static str;
    /// One line for `--help`; empty when the name says it all.
    fn help(self) -> &'static str {
        ""
    }
}
