//! The VM's own guarantees: memory zeroed between calls, typed host aborts, metering,
//! faults, load errors, sharing a module across threads.

mod common;

use std::sync::Arc;

use common::{account, kinds, Deployed, GAS};
use contract_vm::abi::{self, SyscallFault};
use contract_vm::contracts::{self, token};
use contract_vm::{
    gas, CallContext, CallOutcome, ContractId, ContractVm, FaultReason, HostAbort, LoadError,
    MemoryHost, MemoryHostError, Module, StorageKey, StorageValue, VmKind,
};

fn run(
    source: &str,
    kind: VmKind,
    host: &mut MemoryHost,
    input: &[u8],
    max_gas: u64,
) -> CallOutcome {
    let module = Module::from_source(source, kind).expect("test program loads");
    let mut vm = ContractVm::new(kind).expect("VM kind available");
    vm.invoke(
        &module,
        host,
        &CallContext {
            caller: account(1),
            contract: ContractId([7; 32]),
            input,
            max_gas,
        },
    )
    .expect("no host abort")
}

fn fault(source: &str, kind: VmKind) -> FaultReason {
    match run(source, kind, &mut MemoryHost::new(), &[], GAS) {
        CallOutcome::Fault { reason, gas_used } => {
            assert_eq!(gas_used, GAS, "a fault pays all of max_gas");
            reason
        }
        other => panic!("{kind}: expected a fault, got {other:?}"),
    }
}

/// Reads a word of stack and of heap, fails if either is not zero, then leaves a secret in
/// both: a second call on the same VM sees the secret only if memory leaks.
const SNOOP: &str = "
    ldxdw r0, [r10-8]
    lddw r2, 0x300000000
    ldxdw r3, [r2+0]
    or64 r0, r3
    ldxdw r3, [r10-4000]
    or64 r0, r3
    lddw r1, 0x5ec7e7
    stxdw [r10-8], r1
    stxdw [r10-4000], r1
    stxdw [r2+0], r1
    exit
";

#[test]
fn stack_and_heap_are_zeroed_before_every_call() {
    for kind in kinds() {
        let module = Module::from_source(SNOOP, kind).expect("loads");
        let mut vm = ContractVm::new(kind).expect("available");
        let mut host = MemoryHost::new();
        for round in 0..3 {
            let outcome = vm
                .invoke(
                    &module,
                    &mut host,
                    &CallContext {
                        caller: account(1),
                        contract: ContractId([1; 32]),
                        input: &[],
                        max_gas: GAS,
                    },
                )
                .expect("no host abort");
            assert!(
                outcome.is_success(),
                "{kind} round {round}: the call saw an earlier call's memory: {outcome:?}"
            );
        }
    }
}

#[test]
fn a_host_error_stops_the_vm_at_once_and_comes_back_typed() {
    // Read the failing key, then write: the write must never reach the host.
    let source = "
        stdw [r10-32], 0
        stb [r10-32], 5
        mov64 r1, r10
        add64 r1, -32
        mov64 r2, r10
        add64 r2, -64
        mov64 r3, 8
        syscall tos_storage_read
        mov64 r1, r10
        add64 r1, -32
        mov64 r2, r10
        add64 r2, -64
        mov64 r3, 8
        syscall tos_storage_write
        mov64 r0, 0
        exit
    ";
    let mut key = [0u8; 32];
    key[0] = 5;
    for kind in kinds() {
        let module = Module::from_source(source, kind).expect("loads");
        let mut vm = ContractVm::new(kind).expect("available");
        let mut host = MemoryHost::new();
        host.fail_reads_of(Some(StorageKey(key)));
        let result = vm.invoke(
            &module,
            &mut host,
            &CallContext {
                caller: account(1),
                contract: ContractId([1; 32]),
                input: &[],
                max_gas: GAS,
            },
        );
        assert_eq!(
            result,
            Err(HostAbort(MemoryHostError(StorageKey(key)))),
            "{kind}"
        );
        assert_eq!(
            host.operations(),
            1,
            "{kind}: no syscall ran after the failed read"
        );
        assert!(!host.has_pending(), "{kind}: the write never happened");

        // The same VM runs the next call normally.
        host.fail_reads_of(None);
        let outcome = vm
            .invoke(
                &module,
                &mut host,
                &CallContext {
                    caller: account(1),
                    contract: ContractId([1; 32]),
                    input: &[],
                    max_gas: GAS,
                },
            )
            .expect("no abort now");
        assert!(outcome.is_success(), "{kind}: {outcome:?}");
    }
}

#[test]
fn a_host_abort_in_a_bundled_contract_keeps_nothing() {
    for kind in kinds() {
        let mut token_contract = Deployed::new(contracts::TOKEN, kind);
        token_contract.ok(&account(1), &token::init());
        token_contract.ok(&account(1), &token::mint(&account(2), 50));
        let operations = token_contract.host.operations();
        // The receiver's balance read fails: the sender's debit was written before it.
        token_contract
            .host
            .fail_reads_of(Some(token::balance_key(&account(3))));
        let result = token_contract.vm.invoke(
            &token_contract.module,
            &mut token_contract.host,
            &CallContext {
                caller: account(2),
                contract: token_contract.contract,
                input: &token::transfer(&account(3), 10),
                max_gas: GAS,
            },
        );
        assert!(
            matches!(result, Err(HostAbort(MemoryHostError(_)))),
            "{kind}: {result:?}"
        );
        // Read sender, write sender, read receiver (failed): three operations, no more.
        assert_eq!(token_contract.host.operations(), operations + 3);
        token_contract.host.discard();
        token_contract.host.fail_reads_of(None);
        assert_eq!(
            token_contract
                .host
                .stored(&token_contract.contract, &token::balance_key(&account(2))),
            Some(&StorageValue::from(50))
        );
    }
}

#[test]
fn gas_is_exact_and_running_out_pays_max_gas() {
    // Four instructions and no syscall.
    let source = "
        mov64 r1, 1
        add64 r1, 2
        mov64 r0, 0
        exit
    ";
    for kind in kinds() {
        let mut host = MemoryHost::new();
        assert_eq!(
            run(source, kind, &mut host, &[], 4),
            CallOutcome::Success {
                gas_used: 4,
                return_data: vec![],
                logs: vec![]
            }
        );
        assert_eq!(
            run(source, kind, &mut host, &[], 3),
            CallOutcome::OutOfGas { gas_used: 3 }
        );
        assert_eq!(
            run(source, kind, &mut host, &[], 0),
            CallOutcome::OutOfGas { gas_used: 0 }
        );

        // A syscall is charged before it works: too little gas for the write means no
        // write.
        let write = "
            mov64 r1, r10
            add64 r1, -32
            mov64 r2, r10
            add64 r2, -64
            mov64 r3, 8
            syscall tos_storage_write
            exit
        ";
        let needed = 7 + gas::with_bytes(gas::STORAGE_WRITE, 8);
        let outcome = run(write, kind, &mut host, &[], needed);
        assert_eq!(outcome.gas_used(), needed, "{kind}: {outcome:?}");
        assert!(outcome.is_success());
        host.discard();
        // One short: the write is paid and done, the final `exit` is not.
        assert_eq!(
            run(write, kind, &mut host, &[], needed - 1),
            CallOutcome::OutOfGas {
                gas_used: needed - 1
            }
        );
        assert!(
            host.has_pending(),
            "{kind}: the host discards it, not the VM"
        );
        host.discard();
        assert_eq!(host.operations(), 2);
        // Two short: the syscall cannot pay, so the write never reaches the host.
        assert_eq!(
            run(write, kind, &mut host, &[], needed - 2),
            CallOutcome::OutOfGas {
                gas_used: needed - 2
            }
        );
        assert!(!host.has_pending(), "{kind}: an unpaid write did nothing");
        assert_eq!(
            host.operations(),
            2,
            "{kind}: the unpaid write never reached the host"
        );

        // An endless loop ends when the gas does.
        let spin = "
            mov64 r1, 0
        spin:
            add64 r1, 1
            jne r1, 0, spin
            exit
        ";
        assert_eq!(
            run(spin, kind, &mut host, &[], 10_000),
            CallOutcome::OutOfGas { gas_used: 10_000 }
        );
    }
}

#[test]
fn a_token_transfer_with_tiny_max_gas_runs_out() {
    for kind in kinds() {
        let mut token_contract = Deployed::new(contracts::TOKEN, kind);
        token_contract.ok(&account(1), &token::init());
        token_contract.ok(&account(1), &token::mint(&account(2), 50));
        for max_gas in [0, 1, 10, 300, 1_500] {
            let outcome = token_contract.call_with_gas(
                &account(2),
                &token::transfer(&account(3), 5),
                max_gas,
            );
            assert_eq!(
                outcome,
                CallOutcome::OutOfGas { gas_used: max_gas },
                "{kind}"
            );
        }
        assert_eq!(
            token_contract
                .host
                .stored(&token_contract.contract, &token::balance_key(&account(2))),
            Some(&StorageValue::from(50))
        );
    }
}

#[test]
fn faults_fail_the_call_not_the_process() {
    for kind in kinds() {
        // Syscalls given bad arguments.
        // (Address 0 is the read-only code; nothing is mapped at 0x5_0000_0000.)
        let bad_key = "
            lddw r1, 0x500000000
            mov64 r2, r10
            add64 r2, -8
            mov64 r3, 8
            syscall tos_storage_read
            exit
        ";
        assert_eq!(
            fault(bad_key, kind),
            FaultReason::Syscall(SyscallFault::BadPointer)
        );
        let bad_out = "
            mov64 r1, 0
            syscall tos_get_caller
            exit
        ";
        assert_eq!(
            fault(bad_out, kind),
            FaultReason::Syscall(SyscallFault::BadPointer)
        );
        let past_stack_end = "
            mov64 r1, r10
            add64 r1, 32760
            mov64 r2, 64
            syscall tos_log
            exit
        ";
        assert_eq!(
            fault(past_stack_end, kind),
            FaultReason::Syscall(SyscallFault::BadPointer)
        );
        let long_value = format!(
            "mov64 r1, r10\n add64 r1, -32\n mov64 r2, r10\n add64 r2, -64\n mov64 r3, {}\n syscall tos_storage_write\n exit",
            abi::MAX_VALUE_LEN + 1
        );
        assert_eq!(
            fault(&long_value, kind),
            FaultReason::Syscall(SyscallFault::ValueTooLong)
        );
        let long_return = format!(
            "mov64 r1, r10\n add64 r1, -2048\n mov64 r2, {}\n syscall tos_set_return_data\n exit",
            abi::MAX_RETURN_DATA_LEN + 1
        );
        assert_eq!(
            fault(&long_return, kind),
            FaultReason::Syscall(SyscallFault::ReturnDataTooLong)
        );
        let many_logs = format!(
            "mov64 r6, 0\n again:\n mov64 r1, r10\n add64 r1, -8\n mov64 r2, 1\n syscall tos_log\n add64 r6, 1\n jlt r6, {}, again\n mov64 r0, 0\n exit",
            abi::MAX_LOGS + 1
        );
        assert_eq!(
            fault(&many_logs, kind),
            FaultReason::Syscall(SyscallFault::TooManyLogs)
        );

        // The VM's own rules.
        let out_of_bounds = "
            lddw r1, 0x500000000
            ldxdw r0, [r1+0]
            exit
        ";
        assert_eq!(fault(out_of_bounds, kind), FaultReason::MemoryAccess);
        let write_code = "
            lddw r1, 0x100000000
            stdw [r1+0], 1
            exit
        ";
        assert_eq!(fault(write_code, kind), FaultReason::MemoryAccess);
        let divide = "
            mov64 r1, 5
            mov64 r2, 0
            div64 r1, r2
            exit
        ";
        assert_eq!(fault(divide, kind), FaultReason::DivideByZero);
        let recurse = "
            call function_deeper
            exit
        function_deeper:
            mov64 r1, 1
            call function_deeper
            exit
        ";
        assert_eq!(fault(recurse, kind), FaultReason::CallDepthExceeded);

        // An over-long input never reaches the contract.
        let mut host = MemoryHost::new();
        let input = vec![0; abi::MAX_INPUT_LEN + 1];
        assert_eq!(
            run("mov64 r0, 0\n exit", kind, &mut host, &input, 77),
            CallOutcome::Fault {
                reason: FaultReason::InputTooLong,
                gas_used: 77
            }
        );
    }
}

#[test]
fn syscalls_report_identity_hash_and_absence() {
    // Writes an empty value, reads it back (length 0, not ABSENT), reads an absent key
    // (ABSENT), then returns contract id || blake3(contract id) || both read results.
    let source = "
        mov64 r1, r10
        add64 r1, -32
        syscall tos_get_contract_hash
        mov64 r1, r10
        add64 r1, -32
        mov64 r2, 32
        mov64 r3, r10
        add64 r3, -64
        syscall tos_blake3
        stdw [r10-104], 0
        stdw [r10-96], 0
        stdw [r10-88], 0
        stdw [r10-80], 0
        mov64 r1, r10
        add64 r1, -104
        mov64 r2, r10
        mov64 r3, 0
        syscall tos_storage_write
        mov64 r1, r10
        add64 r1, -104
        mov64 r2, r10
        add64 r2, -200
        mov64 r3, 8
        syscall tos_storage_read
        stxdw [r10-72], r0
        stb [r10-104], 1
        mov64 r1, r10
        add64 r1, -104
        mov64 r2, r10
        add64 r2, -200
        mov64 r3, 8
        syscall tos_storage_read
        stxdw [r10-80], r0
        mov64 r1, r10
        add64 r1, -80
        mov64 r2, 16
        syscall tos_set_return_data
        mov64 r1, r10
        add64 r1, -64
        mov64 r2, 64
        syscall tos_log
        mov64 r0, 0
        exit
    ";
    for kind in kinds() {
        let mut host = MemoryHost::new();
        let CallOutcome::Success {
            return_data, logs, ..
        } = run(source, kind, &mut host, &[], GAS)
        else {
            panic!("{kind}: the call failed");
        };
        let mut expected = abi::ABSENT.to_le_bytes().to_vec();
        expected.extend_from_slice(&0u64.to_le_bytes());
        assert_eq!(return_data, expected, "{kind}: absent, then an empty value");
        let mut log = blake3::hash(&[7; 32]).as_bytes().to_vec();
        log.extend_from_slice(&[7; 32]);
        assert_eq!(logs, vec![log], "{kind}");
    }
}

#[test]
fn modules_that_do_not_load_are_typed_errors() {
    assert!(matches!(
        Module::load(&[], VmKind::Interpreter),
        Err(LoadError::Empty)
    ));
    assert!(matches!(
        Module::load(&vec![0; abi::MAX_MODULE_LEN + 8], VmKind::Interpreter),
        Err(LoadError::TooLarge(_))
    ));
    // An opcode that does not exist.
    assert!(matches!(
        Module::load(
            &[0xff, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
            VmKind::Interpreter
        ),
        Err(LoadError::Verify(_))
    ));
    // Not a whole number of instructions.
    assert!(Module::load(&[0x95, 0, 0, 0, 0, 0, 0, 0, 0], VmKind::Interpreter).is_err());
    // A jump out of the program.
    assert!(matches!(
        Module::from_source("ja +5\n exit", VmKind::Interpreter),
        Err(LoadError::Verify(_))
    ));
    // A syscall that does not exist fails at load, not when reached.
    assert!(matches!(
        Module::from_source("syscall tos_no_such_thing\n exit", VmKind::Interpreter),
        Err(LoadError::Verify(_))
    ));
    assert!(matches!(
        Module::from_source("frobnicate r1", VmKind::Interpreter),
        Err(LoadError::Assembly(_))
    ));
    // Its bytecode is what a deploy stores, and loads again.
    let module = Module::from_source(contracts::TOKEN, VmKind::Interpreter).expect("loads");
    let again = Module::load(module.bytecode(), VmKind::Interpreter).expect("reloads");
    assert_eq!(module.bytecode(), again.bytecode());
}

#[test]
fn vm_kinds_parse_and_print() {
    for kind in [VmKind::Interpreter, VmKind::Jit] {
        assert_eq!(kind.to_string().parse::<VmKind>(), Ok(kind));
    }
    assert!("wasm".parse::<VmKind>().is_err());
    assert!(ContractVm::new(VmKind::Interpreter).is_ok());
    assert_eq!(
        ContractVm::new(VmKind::Jit).is_ok(),
        VmKind::Jit.is_available()
    );
}

#[test]
fn one_module_serves_many_threads_with_the_same_results() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Module>();

    for kind in kinds() {
        let module = Arc::new(Module::from_source(contracts::TOKEN, kind).expect("loads"));
        let scenario = |module: &Module| -> (Vec<CallOutcome>, Vec<u64>) {
            let mut vm = ContractVm::new(kind).expect("available");
            let mut host = MemoryHost::new();
            let contract = ContractId([9; 32]);
            let mut outcomes = Vec::new();
            let mut instructions = Vec::new();
            let mut call = |caller: u64, input: Vec<u8>| {
                let outcome = vm
                    .invoke(
                        module,
                        &mut host,
                        &CallContext {
                            caller: account(caller),
                            contract,
                            input: &input,
                            max_gas: GAS,
                        },
                    )
                    .expect("no abort");
                if outcome.is_success() {
                    host.commit();
                } else {
                    host.discard();
                }
                instructions.push(vm.last_meter().instructions);
                outcomes.push(outcome);
            };
            call(1, token::init());
            call(1, token::mint(&account(2), 1_000));
            for round in 0..200u64 {
                call(
                    2 + round % 3,
                    token::transfer(&account(2 + (round + 1) % 3), round % 7),
                );
            }
            call(9, token::balance_of(&account(3)));
            (outcomes, instructions)
        };
        let expected = scenario(&module);
        assert!(
            expected.0.iter().any(|outcome| !outcome.is_success()),
            "some transfers revert"
        );
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let module = Arc::clone(&module);
                    scope.spawn(move || scenario(&module))
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("no panic"))
                .collect()
        });
        for result in results {
            assert_eq!(result, expected, "{kind}");
        }
    }
}
