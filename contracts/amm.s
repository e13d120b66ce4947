; Constant-product AMM pool over two native assets held by the contract.
;
; Liquidity and swap input arrive as deposits of the calling transaction: the pool keeps
; its reserves in storage, and what it holds above a reserve is what was just deposited.
;
; Storage (32-byte keys: a tag byte, then zeros):
;   [1]  asset A (32-byte value)        [3]  reserve A (u64, little endian)
;   [2]  asset B (32-byte value)        [4]  reserve B (u64, little endian)
;
; Input (first byte = method, then fixed-size fields; any other length reverts 1):
;   0 init(asset_a[32], asset_b[32])  65 bytes  reserves := the contract's balances
;                                               (the deposits of this call); reverts 6 if
;                                               already initialized
;   1 swap(direction u8, min_out u64)  10 bytes  direction 0 = A to B, 1 = B to A (else 1);
;                                               amount_in = balance(in) - reserve(in);
;                                               out = amount_in*997*reserve_out /
;                                                     (reserve_in*1000 + amount_in*997),
;                                               paid to the caller; return data = out.
;                                               Reverts 7 if not initialized, 4 if nothing
;                                               was deposited or the pool is empty, 3 on
;                                               overflow, 5 if out < min_out or out = 0,
;                                               8 if the transfer is refused.
;   2 reserves                          1 byte  return data = reserve A || reserve B
;
; Frame layout: input at r10-128, caller at r10-160, asset A at r10-192, asset B at
; r10-264; reserve in, reserve out, amount in, amount out at r10-280/288/296/304.

entrypoint:
    mov64 r1, r10
    add64 r1, -128
    mov64 r2, 128
    syscall tos_get_input_data
    mov64 r6, r0
    jeq r6, 0, bad_input
    ldxb r7, [r10-128]
    jeq r7, 0, init
    jeq r7, 1, swap
    jeq r7, 2, get_reserves
    ja bad_input

init:
    jne r6, 65, bad_input
    mov64 r1, 1
    mov64 r2, r10
    add64 r2, -192
    call function_read_asset
    jne r0, -1, already_initialized
    mov64 r1, 1
    mov64 r2, r10
    add64 r2, -127
    call function_write_asset
    mov64 r1, 2
    mov64 r2, r10
    add64 r2, -95
    call function_write_asset
    mov64 r1, r10
    add64 r1, -127
    syscall tos_get_balance
    mov64 r2, r0
    mov64 r1, 3
    call function_write_tag
    mov64 r1, r10
    add64 r1, -95
    syscall tos_get_balance
    mov64 r2, r0
    mov64 r1, 4
    call function_write_tag
    mov64 r0, 0
    exit

swap:
    jne r6, 10, bad_input
    ldxb r9, [r10-127]
    jgt r9, 1, bad_input
    mov64 r1, 1
    mov64 r2, r10
    add64 r2, -192
    call function_read_asset
    jne r0, 32, not_initialized
    mov64 r1, 2
    mov64 r2, r10
    add64 r2, -264
    call function_read_asset
    jne r0, 32, not_initialized
    jeq r9, 0, swap_a_to_b
    ; r6 = asset in, r7 = asset out, r8 = reserve-in tag, r9 = reserve-out tag
    mov64 r6, r10
    add64 r6, -264
    mov64 r7, r10
    add64 r7, -192
    mov64 r8, 4
    mov64 r9, 3
    ja swap_go
swap_a_to_b:
    mov64 r6, r10
    add64 r6, -192
    mov64 r7, r10
    add64 r7, -264
    mov64 r8, 3
    mov64 r9, 4
swap_go:
    mov64 r1, r8
    call function_read_tag
    stxdw [r10-280], r0
    mov64 r1, r9
    call function_read_tag
    stxdw [r10-288], r0
    mov64 r1, r6
    syscall tos_get_balance
    ldxdw r2, [r10-280]
    jlt r0, r2, insufficient
    sub64 r0, r2
    jeq r0, 0, insufficient
    stxdw [r10-296], r0
    ; r3 = amount_in * 997, checked
    mov64 r3, r0
    mul64 r3, 997
    mov64 r4, r3
    div64 r4, 997
    jne r4, r0, overflow
    ; r5 = r3 * reserve_out, checked
    ldxdw r4, [r10-288]
    jeq r4, 0, insufficient
    mov64 r5, r3
    mul64 r5, r4
    mov64 r1, r5
    div64 r1, r4
    jne r1, r3, overflow
    ; r1 = reserve_in * 1000 + r3, checked
    ldxdw r2, [r10-280]
    mov64 r1, r2
    mul64 r1, 1000
    mov64 r0, r1
    div64 r0, 1000
    jne r0, r2, overflow
    add64 r1, r3
    jlt r1, r3, overflow
    div64 r5, r1
    ldxdw r2, [r10-126]
    jlt r5, r2, slippage
    jeq r5, 0, slippage
    stxdw [r10-304], r5
    mov64 r1, r10
    add64 r1, -160
    syscall tos_get_caller
    mov64 r1, r10
    add64 r1, -160
    mov64 r2, r7
    ldxdw r3, [r10-304]
    syscall tos_transfer
    jne r0, 0, transfer_failed
    ; reserve_in += amount_in (the balance held, so no overflow); reserve_out -= out
    ; (out < reserve_out whenever reserve_in > 0, and = reserve_out at most)
    ldxdw r2, [r10-280]
    ldxdw r3, [r10-296]
    add64 r2, r3
    mov64 r1, r8
    call function_write_tag
    ldxdw r2, [r10-288]
    ldxdw r3, [r10-304]
    sub64 r2, r3
    mov64 r1, r9
    call function_write_tag
    mov64 r1, r10
    add64 r1, -304
    mov64 r2, 8
    syscall tos_set_return_data
    mov64 r0, 0
    exit

get_reserves:
    jne r6, 1, bad_input
    mov64 r1, 3
    call function_read_tag
    stxdw [r10-304], r0
    mov64 r1, 4
    call function_read_tag
    stxdw [r10-296], r0
    mov64 r1, r10
    add64 r1, -304
    mov64 r2, 16
    syscall tos_set_return_data
    mov64 r0, 0
    exit

bad_input:
    mov64 r0, 1
    exit
overflow:
    mov64 r0, 3
    exit
insufficient:
    mov64 r0, 4
    exit
slippage:
    mov64 r0, 5
    exit
already_initialized:
    mov64 r0, 6
    exit
not_initialized:
    mov64 r0, 7
    exit
transfer_failed:
    mov64 r0, 8
    exit

; r0 := the u64 at key [r1] (absent = 0).
function_read_tag:
    stdw [r10-40], 0
    stdw [r10-32], 0
    stdw [r10-24], 0
    stdw [r10-16], 0
    stxb [r10-40], r1
    stdw [r10-8], 0
    mov64 r1, r10
    add64 r1, -40
    mov64 r2, r10
    add64 r2, -8
    mov64 r3, 8
    syscall tos_storage_read
    ldxdw r0, [r10-8]
    exit

; Stores r2 as the u64 at key [r1].
function_write_tag:
    stdw [r10-40], 0
    stdw [r10-32], 0
    stdw [r10-24], 0
    stdw [r10-16], 0
    stxb [r10-40], r1
    stxdw [r10-8], r2
    mov64 r1, r10
    add64 r1, -40
    mov64 r2, r10
    add64 r2, -8
    mov64 r3, 8
    syscall tos_storage_write
    exit

; Reads the 32-byte value at key [r1] into r2; r0 := its length or ABSENT.
function_read_asset:
    stdw [r10-40], 0
    stdw [r10-32], 0
    stdw [r10-24], 0
    stdw [r10-16], 0
    stxb [r10-40], r1
    mov64 r1, r10
    add64 r1, -40
    mov64 r3, 32
    syscall tos_storage_read
    exit

; Stores the 32 bytes at r2 as the value at key [r1].
function_write_asset:
    stdw [r10-40], 0
    stdw [r10-32], 0
    stdw [r10-24], 0
    stdw [r10-16], 0
    stxb [r10-40], r1
    mov64 r1, r10
    add64 r1, -40
    mov64 r3, 32
    syscall tos_storage_write
    exit
