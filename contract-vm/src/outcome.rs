//! What a call ends in, and what it pays.
//!
//! A [`CallOutcome`] is a result of the *transaction* (included, success or failure); a
//! [`HostAbort`] is not: the host could not answer, and the engine must end the
//! incarnation (Block-STM) or the block (a storage error) instead of recording anything.
//! Every outcome is the same whichever VM kind produced it: reasons are coarse on purpose,
//! so that no detail one engine reports differently can split two nodes.

use std::fmt;

use crate::abi::SyscallFault;

/// How a call that ran ended.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum CallOutcome {
    /// `exit` with `r0 = 0`: the host keeps the call's writes and transfers.
    Success {
        /// Gas the call used (instructions and syscalls).
        gas_used: u64,
        /// What the contract last passed to `tos_set_return_data` (empty if nothing).
        return_data: Vec<u8>,
        /// What the contract passed to `tos_log`, in order.
        logs: Vec<Vec<u8>>,
    },
    /// `exit` with a non-zero `r0`: writes and transfers are discarded; the gas used is
    /// paid.
    Revert {
        /// The contract's `r0`.
        code: u64,
        /// Gas the call used.
        gas_used: u64,
    },
    /// The meter ran out: discarded; all of `max_gas` is paid.
    OutOfGas {
        /// Always the call's `max_gas`.
        gas_used: u64,
    },
    /// The contract broke a rule of the VM: discarded; all of `max_gas` is paid.
    Fault {
        /// Which rule.
        reason: FaultReason,
        /// Always the call's `max_gas`.
        gas_used: u64,
    },
}

impl CallOutcome {
    /// The gas the transaction pays for this call.
    pub fn gas_used(&self) -> u64 {
        match self {
            CallOutcome::Success { gas_used, .. }
            | CallOutcome::Revert { gas_used, .. }
            | CallOutcome::OutOfGas { gas_used }
            | CallOutcome::Fault { gas_used, .. } => *gas_used,
        }
    }

    /// Whether the host should keep the call's writes and transfers.
    pub fn is_success(&self) -> bool {
        matches!(self, CallOutcome::Success { .. })
    }
}

/// Why a call faulted.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
pub enum FaultReason {
    /// A load or store outside mapped memory (or a store to read-only memory).
    #[error("memory access violation")]
    MemoryAccess,
    /// Integer division or remainder by zero.
    #[error("division by zero")]
    DivideByZero,
    /// Signed division overflow.
    #[error("division overflow")]
    DivideOverflow,
    /// Internal calls nested deeper than [`crate::abi::MAX_CALL_DEPTH`].
    #[error("call depth exceeded")]
    CallDepthExceeded,
    /// An instruction the VM does not run (an unknown syscall or call target, an invalid
    /// opcode reached at run time).
    #[error("unsupported instruction")]
    UnsupportedInstruction,
    /// Control left the program's text.
    #[error("execution left the program")]
    ExecutionOverrun,
    /// A syscall refused its arguments.
    #[error("syscall fault: {0}")]
    Syscall(SyscallFault),
    /// The call's input is longer than [`crate::abi::MAX_INPUT_LEN`] (the executor should
    /// have rejected the transaction first).
    #[error("input too long")]
    InputTooLong,
    /// Any other VM error (none is expected from a verified module).
    #[error("VM error")]
    Other,
}

/// The host failed to answer a syscall; the call stopped at that syscall and nothing after
/// it ran. Carries the host's own error, typed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HostAbort<E>(pub E);

impl<E: fmt::Display> fmt::Display for HostAbort<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host aborted the call: {}", self.0)
    }
}

impl<E: std::error::Error + 'static> std::error::Error for HostAbort<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}
