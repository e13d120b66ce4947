//! Loaded contract modules, shared by every worker and every block.
//!
//! Loading a module (parsing its bytecode and running the verifier, and compiling it for
//! the JIT) costs far more than a call, so it happens once per module and VM kind, and
//! every later call, on any thread, shares the loaded module through its `Arc`. Modules
//! are keyed by the blake3 hash of their bytecode ([`ModuleCode::hash`]): two contracts
//! with the same code share one, and a key cannot go stale (code never changes under a
//! hash). A deploy's module is loaded when its block is validated, so the calls in the
//! same block find it here.
//!
//! The cache is bounded: past [`CAPACITY`] modules it is emptied and refilled on demand.
//! A real node would want an LRU; with a handful of contracts per workload this never
//! triggers, and emptying keeps the bound with no bookkeeping on the hot path. Each
//! thread keeps its own copy of the entries it used in front of the shared map, so a
//! call takes no shared lock once its thread has seen the module.

use std::cell::RefCell;
use std::sync::{LazyLock, Mutex, PoisonError};

use contract_vm::{LoadError, Module, VmKind};
use rustc_hash::FxHashMap;
use storage_adapter::{Hash, ModuleCode};

/// Most modules kept loaded at once.
pub const CAPACITY: usize = 256;

static LOADED: LazyLock<Mutex<FxHashMap<(Hash, VmKind), Module>>> =
    LazyLock::new(|| Mutex::new(FxHashMap::default()));

/// `code` loaded and verified for the interpreter, from the cache when it is there. The
/// interpreter is available everywhere, so a module that loads here is a valid module on
/// every node: block validation uses this.
pub fn load(code: &ModuleCode) -> Result<Module, LoadError> {
    load_for(code, VmKind::Interpreter)
}

/// `code` loaded for `kind` (compiled when `kind` is the JIT), from the cache when it is
/// there.
pub fn load_for(code: &ModuleCode, kind: VmKind) -> Result<Module, LoadError> {
    let key = (*code.hash(), kind);
    if let Some(module) = LOCAL.with(|local| local.borrow().get(&key).cloned()) {
        return Ok(module);
    }
    let module = load_shared(code, key)?;
    LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        if local.len() >= CAPACITY {
            local.clear();
        }
        local.insert(key, module.clone());
    });
    Ok(module)
}

thread_local! {
    /// This thread's copies of the shared entries it used.
    static LOCAL: RefCell<FxHashMap<(Hash, VmKind), Module>> = RefCell::new(FxHashMap::default());
}

fn load_shared(code: &ModuleCode, key: (Hash, VmKind)) -> Result<Module, LoadError> {
    let kind = key.1;
    if let Some(module) = cache().get(&key) {
        return Ok(module.clone());
    }
    // Loaded outside the lock: two threads may both load a new module once, but no
    // thread waits on another's verifier. The first one stored wins; both are equal.
    let module = Module::load(code.bytecode(), kind)?;
    let mut cache = cache();
    if cache.len() >= CAPACITY {
        cache.clear();
    }
    Ok(cache.entry(key).or_insert(module).clone())
}

fn cache() -> std::sync::MutexGuard<'static, FxHashMap<(Hash, VmKind), Module>> {
    // The map is only ever inserted into whole entries: a panic elsewhere while holding
    // the lock leaves it consistent.
    LOADED.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_is_loaded_once_and_shared() {
        let bytecode = contract_vm::assemble_source(contract_vm::contracts::VOTE).expect("bundled");
        let code = ModuleCode::new(&bytecode);
        let first = load(&code).expect("loads");
        let second = load(&code).expect("loads");
        assert_eq!(first.bytecode(), second.bytecode());
        assert!(load(&ModuleCode::new(&[0xff; 16])).is_err());
    }
}
