//! Allocation on first use, for the parts of the memory a block may never touch.
//!
//! A block the commit role runs as one frontier run from its first transaction (every
//! block on one worker) never reads or writes a versioned entry: its writes go straight
//! to the final state. Yet sizing the key index and the per-transaction sets up front
//! costs a few megabytes of zeroed memory per block, which on a block of 10,000 transfers
//! was about a tenth of the one-worker run. So those parts are built when something first
//! needs them, and a reader that only asks "is anything here?" does not build them.
//!
//! Under `cfg(loom)` the value is built when made: loom cannot see inside `OnceLock` (a
//! loom thread blocked in it would block them all), and the models check the protocols
//! above the memory, not the standard library's one-time initialisation.

/// A value of `T`, built by the first [`OnFirstUse::force`] (under `cfg(loom)`, when made).
pub(crate) struct OnFirstUse<T> {
    cell: std::sync::OnceLock<T>,
}

impl<T> OnFirstUse<T> {
    /// Nothing built yet; `build` is what [`OnFirstUse::force`] will build, called here
    /// instead under `cfg(loom)`. Every `force` must build the same thing.
    pub(crate) fn new(build: impl FnOnce() -> T) -> Self {
        let cell = std::sync::OnceLock::new();
        #[cfg(loom)]
        if cell.set(build()).is_err() {
            unreachable!("a new cell is empty");
        }
        #[cfg(not(loom))]
        drop(build);
        Self { cell }
    }

    /// The value, if it was built.
    pub(crate) fn get(&self) -> Option<&T> {
        self.cell.get()
    }

    /// The value, built now by `build` if this is its first use. Threads asking at once
    /// build it once: the others wait for that one (`OnceLock`).
    pub(crate) fn force(&self, build: impl FnOnce() -> T) -> &T {
        self.cell.get_or_init(build)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_built_until_forced_and_then_once() {
        let lazy: OnFirstUse<Vec<u8>> = OnFirstUse::new(|| panic!("not built when made"));
        assert!(lazy.get().is_none());
        assert_eq!(lazy.force(|| vec![7; 3]), &vec![7, 7, 7]);
        assert_eq!(lazy.force(|| panic!("built only once")), &vec![7, 7, 7]);
        assert!(std::ptr::eq(
            lazy.force(Vec::new),
            lazy.get().expect("built by force")
        ));
    }

    #[test]
    fn threads_forcing_at_once_share_one_value() {
        let lazy: OnFirstUse<Box<[u64]>> = OnFirstUse::new(|| unreachable!());
        let builds = std::sync::atomic::AtomicUsize::new(0);
        let addresses: Vec<usize> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        lazy.force(|| {
                            builds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            vec![1; 1_000].into()
                        })
                        .as_ptr() as usize
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("forcing thread"))
                .collect()
        });
        assert!(addresses.windows(2).all(|pair| pair[0] == pair[1]));
        assert_eq!(builds.into_inner(), 1);
        assert_eq!(lazy.force(|| unreachable!()).iter().sum::<u64>(), 1_000);
    }
}
