//! The per-worker VM: runs one call of a shared [`Module`] against a host.
//!
//! A [`ContractVm`] owns everything a call writes (stack, heap, call frames), so workers
//! never share mutable memory; it zeroes the stack and heap before every call, so nothing
//! one transaction leaves in memory is visible to the next. The interpreter and the JIT
//! run the same module with the same meter and must end every call identically; the
//! crate's property tests check that they do.

use std::fmt;
use std::str::FromStr;

use solana_sbpf::aligned_memory::AlignedMemory;
use solana_sbpf::ebpf::{self, HOST_ALIGN};
use solana_sbpf::error::EbpfError;
use solana_sbpf::memory_region::{MemoryMapping, MemoryRegion};
use solana_sbpf::vm::{CallFrame, EbpfVm, ExecutionMode};

use crate::abi::{self, HEAP_SIZE, MAX_CALL_DEPTH, MAX_INPUT_LEN, STACK_FRAME_SIZE};
use crate::context::{HostAdapter, HostSlot, InvokeContext, Stop};
use crate::host::ContractHost;
use crate::ids::{ContractId, PublicKey};
use crate::module::Module;
use crate::outcome::{CallOutcome, FaultReason, HostAbort};

/// Most gas one call can meter. The VM's meter is signed inside the JIT, so a larger
/// `max_gas` is run with this budget (and still pays `max_gas` if it runs out).
pub const MAX_METERED_GAS: u64 = 1 << 48;

/// Which engine runs contract code. Both give identical outcomes; the JIT is faster and
/// exists only on x86_64.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum VmKind {
    /// The portable interpreter.
    #[default]
    Interpreter,
    /// Compiled x86_64 machine code.
    Jit,
}

impl VmKind {
    /// Whether this target can run `self`.
    pub fn is_available(self) -> bool {
        match self {
            VmKind::Interpreter => true,
            VmKind::Jit => cfg!(all(target_arch = "x86_64", not(target_os = "windows"))),
        }
    }
}

impl fmt::Display for VmKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VmKind::Interpreter => "interpreter",
            VmKind::Jit => "jit",
        })
    }
}

/// A VM kind name that is neither `interpreter` nor `jit`.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("unknown VM kind {0:?} (expected \"interpreter\" or \"jit\")")]
pub struct ParseVmKindError(pub String);

impl FromStr for VmKind {
    type Err = ParseVmKindError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "interpreter" => Ok(VmKind::Interpreter),
            "jit" => Ok(VmKind::Jit),
            other => Err(ParseVmKindError(other.to_owned())),
        }
    }
}

/// A [`VmKind`] this target cannot run.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("the {0} VM is not available on this target")]
pub struct VmUnavailable(pub VmKind);

/// Who calls which contract with what.
#[derive(Clone, Copy, Debug)]
pub struct CallContext<'a> {
    /// The transaction's source account (`tos_get_caller`).
    pub caller: PublicKey,
    /// The contract being called (`tos_get_contract_hash`, and whose storage and balances
    /// the syscalls reach).
    pub contract: ContractId,
    /// The call's input (`tos_get_input_data`), at most [`MAX_INPUT_LEN`] bytes.
    pub input: &'a [u8],
    /// Gas the call may use.
    pub max_gas: u64,
}

/// How the last call spent its gas: instructions apart from syscall costs. The same for
/// the interpreter and the JIT.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Meter {
    /// Gas the instructions used (the VM's instruction meter).
    pub instructions: u64,
    /// Gas the syscalls charged.
    pub syscall_gas: u64,
}

/// One worker's VM. Not shared: each thread owns one.
pub struct ContractVm {
    kind: VmKind,
    stack: AlignedMemory<HOST_ALIGN>,
    heap: AlignedMemory<HOST_ALIGN>,
    call_frames: Vec<CallFrame>,
    /// The input buffer, kept between calls so a call allocates none.
    input: Vec<u8>,
    last_meter: Meter,
}

impl fmt::Debug for ContractVm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContractVm")
            .field("kind", &self.kind)
            .field("last_meter", &self.last_meter)
            .finish_non_exhaustive()
    }
}

impl ContractVm {
    /// A VM of `kind` with its own stack and heap.
    pub fn new(kind: VmKind) -> Result<Self, VmUnavailable> {
        if !kind.is_available() {
            return Err(VmUnavailable(kind));
        }
        Ok(Self {
            kind,
            stack: AlignedMemory::zero_filled(STACK_FRAME_SIZE * MAX_CALL_DEPTH),
            heap: AlignedMemory::zero_filled(HEAP_SIZE),
            call_frames: vec![CallFrame::default(); MAX_CALL_DEPTH],
            input: Vec::new(),
            last_meter: Meter::default(),
        })
    }

    /// Which engine this VM runs.
    pub fn kind(&self) -> VmKind {
        self.kind
    }

    /// How the last call spent its gas.
    pub fn last_meter(&self) -> Meter {
        self.last_meter
    }

    /// Runs `module` for `call` against `host`.
    ///
    /// `Ok` is the call's outcome, whatever the contract did; `Err` means the host failed
    /// a syscall: the VM stopped there, nothing after that syscall ran, and the host's
    /// error comes back as it was returned.
    pub fn invoke<H: ContractHost>(
        &mut self,
        module: &Module,
        host: &mut H,
        call: &CallContext<'_>,
    ) -> Result<CallOutcome, HostAbort<H::Error>> {
        self.last_meter = Meter::default();
        let max_gas = call.max_gas;
        let fault = |reason| CallOutcome::Fault {
            reason,
            gas_used: max_gas,
        };
        if call.input.len() > MAX_INPUT_LEN {
            return Ok(fault(FaultReason::InputTooLong));
        }
        // Nothing of an earlier call may be visible to this one.
        self.stack.as_slice_mut().fill(0);
        self.heap.as_slice_mut().fill(0);

        let executable = module.executable();
        let regions = vec![
            executable.get_ro_region(),
            MemoryRegion::new(&raw mut *self.stack.as_slice_mut(), ebpf::MM_STACK_START),
            MemoryRegion::new(&raw mut *self.heap.as_slice_mut(), ebpf::MM_HEAP_START),
        ];
        // SAFETY: the regions point into `self.stack` and `self.heap` (plain bytes that
        // accept any content, not resized or freed while `&mut self` is held, which is for
        // as long as this mapping lives: it dies with `context` below) and into the
        // module's read-only section (kept alive by `module`'s borrow).
        let mapping = unsafe {
            MemoryMapping::new(
                regions,
                executable.get_config(),
                executable.get_sbpf_version(),
            )
        };
        let mapping = match mapping {
            Ok(mapping) => mapping,
            Err(error) => {
                tracing::error!(%error, "contract memory mapping failed");
                return Ok(fault(FaultReason::Other));
            }
        };

        let mut input = std::mem::take(&mut self.input);
        input.clear();
        input.extend_from_slice(call.input);

        // Declared before `context`, so it outlives the slot that points to it.
        let mut adapter = HostAdapter::new(host);
        // SAFETY: `adapter` outlives `context` (declared before it, dropped after it) and
        // is not used again until the VM has returned and `context` no longer runs
        // syscalls.
        let slot = unsafe { HostSlot::new(&mut adapter) };
        let budget = max_gas.min(MAX_METERED_GAS);
        let mut context = InvokeContext::new(
            mapping,
            budget,
            Some(slot),
            call.caller,
            call.contract,
            input,
        );

        let mut mode = self.execution_mode(module);
        let (_, result) = {
            let mut vm = EbpfVm::new(
                executable.get_loader().clone(),
                executable.get_sbpf_version(),
                &mut context,
                self.stack.len(),
            );
            vm.execute_program(executable, &mut mode, &mut self.call_frames)
        };

        let used = budget.saturating_sub(context.remaining);
        self.last_meter = Meter {
            instructions: used.saturating_sub(context.syscall_gas),
            syscall_gas: context.syscall_gas,
        };
        let return_data = std::mem::take(&mut context.return_data);
        let logs = std::mem::take(&mut context.logs);
        self.input = std::mem::take(&mut context.input);
        drop(context);

        if let Some(error) = adapter.take_error() {
            return Err(HostAbort(error));
        }
        Ok(match Result::from(result) {
            Ok(0) => CallOutcome::Success {
                gas_used: used,
                return_data,
                logs,
            },
            Ok(code) => CallOutcome::Revert {
                code,
                gas_used: used,
            },
            Err(EbpfError::ExceededMaxInstructions) => CallOutcome::OutOfGas { gas_used: max_gas },
            Err(EbpfError::SyscallError(error)) => match error.downcast::<Stop>() {
                Ok(stop) => match *stop {
                    Stop::OutOfGas => CallOutcome::OutOfGas { gas_used: max_gas },
                    Stop::Fault(reason) => fault(FaultReason::Syscall(reason)),
                    // A host abort always leaves its error in the adapter, taken above.
                    Stop::HostAbort | Stop::NoHost => fault(FaultReason::Other),
                },
                Err(error) => {
                    tracing::error!(%error, "unexpected syscall error");
                    fault(FaultReason::Other)
                }
            },
            Err(error) => fault(fault_reason(&error)),
        })
    }

    fn execution_mode(&self, module: &Module) -> ExecutionMode {
        match self.kind {
            VmKind::Interpreter => ExecutionMode::Interpreted,
            VmKind::Jit => {
                // A module loaded for the interpreter is compiled on first use; if that
                // fails the interpreter runs it, with the same outcome.
                if let Err(error) = module.jit_compile() {
                    tracing::warn!(%error, "JIT compilation failed; interpreting");
                    return ExecutionMode::Interpreted;
                }
                ExecutionMode::Jit
            }
        }
    }
}

/// The coarse reason for a VM error: coarse so that the interpreter and the JIT, which
/// may word details differently, always agree.
fn fault_reason(error: &EbpfError) -> FaultReason {
    match error {
        EbpfError::AccessViolation(..)
        | EbpfError::StackAccessViolation(..)
        | EbpfError::InvalidMemoryRegion(_) => FaultReason::MemoryAccess,
        EbpfError::DivideByZero => FaultReason::DivideByZero,
        EbpfError::DivideOverflow => FaultReason::DivideOverflow,
        EbpfError::CallDepthExceeded => FaultReason::CallDepthExceeded,
        EbpfError::InvalidInstruction | EbpfError::UnsupportedInstruction => {
            FaultReason::UnsupportedInstruction
        }
        EbpfError::ExecutionOverrun | EbpfError::CallOutsideTextSegment => {
            FaultReason::ExecutionOverrun
        }
        other => {
            tracing::warn!(error = %other, "unclassified VM error");
            FaultReason::Other
        }
    }
}

// The ABI's limits are what the VM allocates.
const _: () = assert!(abi::STACK_FRAME_SIZE == solana_sbpf::vm::get_stack_frame_size());
