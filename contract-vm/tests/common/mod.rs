//! Shared test helpers: a contract deployed on a `MemoryHost`, called the way the executor
//! will call it (commit on success, discard otherwise).

#![allow(dead_code)]

use contract_vm::{
    CallContext, CallOutcome, ContractId, ContractVm, MemoryHost, Module, PublicKey, VmKind,
};

/// Every VM kind this target runs.
pub fn kinds() -> Vec<VmKind> {
    [VmKind::Interpreter, VmKind::Jit]
        .into_iter()
        .filter(|kind| kind.is_available())
        .collect()
}

/// Generous gas for calls that should not run out.
pub const GAS: u64 = 1_000_000;

/// One deployed contract on its own host, called through one VM.
pub struct Deployed {
    pub vm: ContractVm,
    pub module: Module,
    pub host: MemoryHost,
    pub contract: ContractId,
}

impl Deployed {
    pub fn new(source: &str, kind: VmKind) -> Self {
        Self {
            vm: ContractVm::new(kind).expect("VM kind available"),
            module: Module::from_source(source, kind).expect("bundled contract loads"),
            host: MemoryHost::new(),
            contract: ContractId([0xc0; 32]),
        }
    }

    /// Calls the contract as `caller` and commits or discards its writes.
    pub fn call(&mut self, caller: &PublicKey, input: &[u8]) -> CallOutcome {
        self.call_with_gas(caller, input, GAS)
    }

    pub fn call_with_gas(&mut self, caller: &PublicKey, input: &[u8], max_gas: u64) -> CallOutcome {
        let outcome = self
            .vm
            .invoke(
                &self.module,
                &mut self.host,
                &CallContext {
                    caller: *caller,
                    contract: self.contract,
                    input,
                    max_gas,
                },
            )
            .expect("the memory host never aborts unless told to");
        if outcome.is_success() {
            self.host.commit();
        } else {
            self.host.discard();
        }
        outcome
    }

    /// Calls and expects success; returns the return data.
    pub fn ok(&mut self, caller: &PublicKey, input: &[u8]) -> Vec<u8> {
        match self.call(caller, input) {
            CallOutcome::Success { return_data, .. } => return_data,
            other => panic!("expected success, got {other:?}"),
        }
    }

    /// Calls and expects a revert with `code`; checks nothing was kept.
    pub fn reverts(&mut self, caller: &PublicKey, input: &[u8], code: u64) {
        let before = self.host.storage_len();
        match self.call(caller, input) {
            CallOutcome::Revert {
                code: got,
                gas_used,
            } => {
                assert_eq!(got, code, "revert code");
                assert!(gas_used > 0 && gas_used < GAS);
            }
            other => panic!("expected revert {code}, got {other:?}"),
        }
        assert!(!self.host.has_pending());
        assert_eq!(self.host.storage_len(), before);
    }
}

/// A u64 from 8 bytes of return data.
pub fn u64_of(bytes: &[u8]) -> u64 {
    let array: [u8; 8] = bytes.try_into().expect("8 bytes of return data");
    u64::from_le_bytes(array)
}

pub fn account(index: u64) -> PublicKey {
    PublicKey::from_index(index)
}
