; Ticket mint: one global counter hands out ticket ids in order.
;
; Storage (32-byte keys):
;   0x00..00            next_id (u64, little endian; absent = 0)
;   [1][id u64 LE][0..] the owner of ticket `id` (32-byte account)
;
; Input (first byte = method, then fixed-size fields; any other length reverts 1):
;   0 mint            1 byte   owner[next_id] := caller; next_id += 1 (3 on overflow);
;                              return data = the ticket id (8 bytes)
;   1 owner_of(id)    9 bytes  return data = the owner (32 bytes); reverts 7 if none
;
; Frame layout: input at r10-128, caller at r10-160, owner key at r10-192, counter key at
; r10-224, read buffer at r10-264.

entrypoint:
    mov64 r1, r10
    add64 r1, -128
    mov64 r2, 128
    syscall tos_get_input_data
    mov64 r6, r0
    jeq r6, 0, bad_input
    ldxb r7, [r10-128]
    jeq r7, 0, mint
    jeq r7, 1, owner_of
    ja bad_input

mint:
    jne r6, 1, bad_input
    stdw [r10-224], 0
    stdw [r10-216], 0
    stdw [r10-208], 0
    stdw [r10-200], 0
    mov64 r1, r10
    add64 r1, -224
    call function_read_u64
    mov64 r8, r0
    mov64 r9, r8
    add64 r9, 1
    jeq r9, 0, overflow
    mov64 r1, r10
    add64 r1, -224
    mov64 r2, r9
    call function_write_u64
    stdw [r10-192], 0
    stdw [r10-184], 0
    stdw [r10-176], 0
    stdw [r10-168], 0
    stb [r10-192], 1
    stxdw [r10-191], r8
    mov64 r1, r10
    add64 r1, -160
    syscall tos_get_caller
    mov64 r1, r10
    add64 r1, -192
    mov64 r2, r10
    add64 r2, -160
    mov64 r3, 32
    syscall tos_storage_write
    stxdw [r10-272], r8
    mov64 r1, r10
    add64 r1, -272
    mov64 r2, 8
    syscall tos_set_return_data
    mov64 r0, 0
    exit

owner_of:
    jne r6, 9, bad_input
    ldxdw r8, [r10-127]
    stdw [r10-192], 0
    stdw [r10-184], 0
    stdw [r10-176], 0
    stdw [r10-168], 0
    stb [r10-192], 1
    stxdw [r10-191], r8
    mov64 r1, r10
    add64 r1, -192
    mov64 r2, r10
    add64 r2, -264
    mov64 r3, 32
    syscall tos_storage_read
    jne r0, 32, not_found
    mov64 r1, r10
    add64 r1, -264
    mov64 r2, 32
    syscall tos_set_return_data
    mov64 r0, 0
    exit

bad_input:
    mov64 r0, 1
    exit
overflow:
    mov64 r0, 3
    exit
not_found:
    mov64 r0, 7
    exit

; r0 := the 8-byte value at key r1 (absent = 0).
function_read_u64:
    stdw [r10-8], 0
    mov64 r2, r10
    add64 r2, -8
    mov64 r3, 8
    syscall tos_storage_read
    ldxdw r0, [r10-8]
    exit

; Stores r2 as the 8-byte value at key r1.
function_write_u64:
    stxdw [r10-8], r2
    mov64 r2, r10
    add64 r2, -8
    mov64 r3, 8
    syscall tos_storage_write
    exit
