#include "textflag.h"

// FOLD_LOAD loads the first 256 bytes at SI into Z0-Z3.
#define FOLD_LOAD \
	VMOVDQU64 0(SI), Z0   \
	VMOVDQU64 64(SI), Z1  \
	VMOVDQU64 128(SI), Z2 \
	VMOVDQU64 192(SI), Z3

// FOLD_START takes the first 256 bytes, loaded into Z0-Z3, and XORs the
// CRC in AX into the first four; it loads the constants into Z8.
#define FOLD_START \
	VBROADCASTI32X4 foldK<>(SB), Z8 \
	VMOVD           AX, X10         \
	VPXORQ          Z10, Z0, Z0

// FOLD_MUL multiplies the halves of every lane of Z0-Z3 by the constants:
// the low products to Z11-Z14, the high ones in place. The caller XORs
// the next 256 bytes into both.
#define FOLD_MUL \
	VPCLMULQDQ $0x00, Z8, Z0, Z11 \
	VPCLMULQDQ $0x11, Z8, Z0, Z0  \
	VPCLMULQDQ $0x00, Z8, Z1, Z12 \
	VPCLMULQDQ $0x11, Z8, Z1, Z1  \
	VPCLMULQDQ $0x00, Z8, Z2, Z13 \
	VPCLMULQDQ $0x11, Z8, Z2, Z2  \
	VPCLMULQDQ $0x00, Z8, Z3, Z14 \
	VPCLMULQDQ $0x11, Z8, Z3, Z3

// FOLD_END leaves in AX the non-inverted CRC32C from zero of the 256 bytes
// in Z0-Z3, with the crc32 instruction, through the frame's 256 bytes.
#define FOLD_END \
	VMOVDQU64 Z0, 0(SP)           \
	VMOVDQU64 Z1, 64(SP)          \
	VMOVDQU64 Z2, 128(SP)         \
	VMOVDQU64 Z3, 192(SP)         \
	VZEROUPPER                    \
	XORL      AX, AX              \
	CRC32Q    0(SP), AX           \
	CRC32Q    8(SP), AX           \
	CRC32Q    16(SP), AX          \
	CRC32Q    24(SP), AX          \
	CRC32Q    32(SP), AX          \
	CRC32Q    40(SP), AX          \
	CRC32Q    48(SP), AX          \
	CRC32Q    56(SP), AX          \
	CRC32Q    64(SP), AX          \
	CRC32Q    72(SP), AX          \
	CRC32Q    80(SP), AX          \
	CRC32Q    88(SP), AX          \
	CRC32Q    96(SP), AX          \
	CRC32Q    104(SP), AX         \
	CRC32Q    112(SP), AX         \
	CRC32Q    120(SP), AX         \
	CRC32Q    128(SP), AX         \
	CRC32Q    136(SP), AX         \
	CRC32Q    144(SP), AX         \
	CRC32Q    152(SP), AX         \
	CRC32Q    160(SP), AX         \
	CRC32Q    168(SP), AX         \
	CRC32Q    176(SP), AX         \
	CRC32Q    184(SP), AX         \
	CRC32Q    192(SP), AX         \
	CRC32Q    200(SP), AX         \
	CRC32Q    208(SP), AX         \
	CRC32Q    216(SP), AX         \
	CRC32Q    224(SP), AX         \
	CRC32Q    232(SP), AX         \
	CRC32Q    240(SP), AX         \
	CRC32Q    248(SP), AX

// func copyCRC3(crcA, crcB, crcC uint32, dst, src *byte, n int) (retA, retB, retC uint32)
//
// Copies 3n bytes from src to dst (n a positive multiple of 24) and
// updates three non-inverted CRC32C values, one over each third: the
// crc32 instruction has a latency of three cycles and a throughput of
// one, so three independent streams keep it busy. Each word is loaded
// once into a register, folded into its CRC and stored from that same
// register: the bytes stored are the bytes checksummed.
TEXT ·copyCRC3(SB), NOSPLIT, $0-52
	MOVL crcA+0(FP), AX
	MOVL crcB+4(FP), CX
	MOVL crcC+8(FP), DX
	MOVQ dst+16(FP), DI
	MOVQ src+24(FP), SI
	MOVQ n+32(FP), BX
	LEAQ (SI)(BX*1), R12
	LEAQ (SI)(BX*2), R13
	LEAQ (DI)(BX*1), R14
	LEAQ (DI)(BX*2), R15
	MOVQ BX, R11

loop:
	MOVQ   (SI), R8
	MOVQ   (R12), R9
	MOVQ   (R13), R10
	CRC32Q R8, AX
	CRC32Q R9, CX
	CRC32Q R10, DX
	MOVQ   R8, (DI)
	MOVQ   R9, (R14)
	MOVQ   R10, (R15)
	MOVQ   8(SI), R8
	MOVQ   8(R12), R9
	MOVQ   8(R13), R10
	CRC32Q R8, AX
	CRC32Q R9, CX
	CRC32Q R10, DX
	MOVQ   R8, 8(DI)
	MOVQ   R9, 8(R14)
	MOVQ   R10, 8(R15)
	MOVQ   16(SI), R8
	MOVQ   16(R12), R9
	MOVQ   16(R13), R10
	CRC32Q R8, AX
	CRC32Q R9, CX
	CRC32Q R10, DX
	MOVQ   R8, 16(DI)
	MOVQ   R9, 16(R14)
	MOVQ   R10, 16(R15)
	ADDQ   $24, SI
	ADDQ   $24, R12
	ADDQ   $24, R13
	ADDQ   $24, DI
	ADDQ   $24, R14
	ADDQ   $24, R15
	SUBQ   $24, R11
	JNZ    loop

	MOVL AX, retA+40(FP)
	MOVL CX, retB+44(FP)
	MOVL DX, retC+48(FP)
	RET

// func cpuid1ECX() uint32
TEXT ·cpuid1ECX(SB), NOSPLIT, $0-4
	MOVL $1, AX
	XORL CX, CX
	CPUID
	MOVL CX, ret+0(FP)
	RET

// The fold constants of copyFold512 for CRC32C, one 128-bit lane each:
// x^(2048+32) mod P and x^(2048-32) mod P, bit-reflected and shifted left
// by one (P = 0x1EDC6F41, the Castagnoli polynomial). They move a 128-bit
// lane 256 bytes forward in the message without changing the CRC.
DATA foldK<>+0(SB)/8, $0xdcb17aa4
DATA foldK<>+8(SB)/8, $0xb9e02b86
GLOBL foldK<>(SB), RODATA|NOPTR, $16

// func copyFold512(dst, src *byte, n int, init uint32) uint32
//
// Copies n bytes from src to dst (n a positive multiple of 256) and
// returns their non-inverted CRC32C from init. It folds the bytes, with
// init XORed into the first four, into 256 bytes whose non-inverted
// CRC32C from zero is that of the n bytes from init (FOLD_END). Four
// 512-bit accumulators carry sixteen 128-bit lanes; each round multiplies
// every lane's halves by the fold constants (VPCLMULQDQ) and XORs in the
// next 256 bytes. As in copyCRC3, each byte is loaded once into a
// register, stored from it and folded from it.
TEXT ·copyFold512(SB), NOSPLIT, $256-36
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), BX
	MOVL init+24(FP), AX

	FOLD_LOAD
	VMOVDQU64 Z0, 0(DI)
	VMOVDQU64 Z1, 64(DI)
	VMOVDQU64 Z2, 128(DI)
	VMOVDQU64 Z3, 192(DI)
	FOLD_START
	ADDQ      $256, SI
	ADDQ      $256, DI
	SUBQ      $256, BX
	JZ        done

loop:
	VMOVDQU64  0(SI), Z4
	VMOVDQU64  64(SI), Z5
	VMOVDQU64  128(SI), Z6
	VMOVDQU64  192(SI), Z7
	VMOVDQU64  Z4, 0(DI)
	VMOVDQU64  Z5, 64(DI)
	VMOVDQU64  Z6, 128(DI)
	VMOVDQU64  Z7, 192(DI)
	FOLD_MUL
	VPTERNLOGD $0x96, Z11, Z4, Z0
	VPTERNLOGD $0x96, Z12, Z5, Z1
	VPTERNLOGD $0x96, Z13, Z6, Z2
	VPTERNLOGD $0x96, Z14, Z7, Z3
	ADDQ       $256, SI
	ADDQ       $256, DI
	SUBQ       $256, BX
	JNZ        loop

done:
	FOLD_END
	MOVL AX, ret+32(FP)
	RET

// func crcFold512(src *byte, n int, init uint32) uint32
//
// copyFold512 without the copy: the non-inverted CRC32C from init of n
// bytes (n a positive multiple of 256) at src.
TEXT ·crcFold512(SB), NOSPLIT, $256-28
	MOVQ src+0(FP), SI
	MOVQ n+8(FP), BX
	MOVL init+16(FP), AX

	FOLD_LOAD
	FOLD_START
	ADDQ      $256, SI
	SUBQ      $256, BX
	JZ        done

loop:
	FOLD_MUL
	VPTERNLOGD $0x96, 0(SI), Z11, Z0
	VPTERNLOGD $0x96, 64(SI), Z12, Z1
	VPTERNLOGD $0x96, 128(SI), Z13, Z2
	VPTERNLOGD $0x96, 192(SI), Z14, Z3
	ADDQ       $256, SI
	SUBQ       $256, BX
	JNZ        loop

done:
	FOLD_END
	MOVL AX, ret+24(FP)
	RET
