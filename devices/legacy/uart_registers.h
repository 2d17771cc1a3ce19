// 16550A UART register map (National Semiconductor PC16550D datasheet, "Register Description").
#pragma once

#include <cstdint>

namespace wisp::uart {

// Register offsets from the port base. DLL/DLM replace RBR/THR and IER while LCR.DLAB is set.
inline constexpr uint64_t kRbrThrDll = 0;
inline constexpr uint64_t kIerDlm = 1;
inline constexpr uint64_t kIirFcr = 2;
inline constexpr uint64_t kLcr = 3;
inline constexpr uint64_t kMcr = 4;
inline constexpr uint64_t kLsr = 5;
inline constexpr uint64_t kMsr = 6;
inline constexpr uint64_t kScr = 7;

// Interrupt Enable Register.
inline constexpr uint8_t kIerReceivedData = 0x01;
inline constexpr uint8_t kIerTransmitterEmpty = 0x02;
inline constexpr uint8_t kIerMask = 0x0f;

// Interrupt Identification Register: bit 0 clear means an interrupt is pending.
inline constexpr uint8_t kIirNoInterrupt = 0x01;
inline constexpr uint8_t kIirTransmitterEmpty = 0x02;
inline constexpr uint8_t kIirReceivedData = 0x04;
inline constexpr uint8_t kIirFifosEnabled = 0xc0;

// FIFO Control Register.
inline constexpr uint8_t kFcrEnableFifo = 0x01;
inline constexpr uint8_t kFcrClearReceive = 0x02;

// Line Control Register.
inline constexpr uint8_t kLcrDivisorLatch = 0x80;

// Modem Control Register.
inline constexpr uint8_t kMcrDtr = 0x01;
inline constexpr uint8_t kMcrRts = 0x02;
inline constexpr uint8_t kMcrOut1 = 0x04;
inline constexpr uint8_t kMcrOut2 = 0x08;
inline constexpr uint8_t kMcrLoopback = 0x10;
inline constexpr uint8_t kMcrMask = 0x1f;

// Line Status Register.
inline constexpr uint8_t kLsrDataReady = 0x01;
inline constexpr uint8_t kLsrTransmitHoldingEmpty = 0x20;
inline constexpr uint8_t kLsrTransmitterEmpty = 0x40;

// Modem Status Register: what a connected terminal shows (carrier, data set ready, clear to send).
inline constexpr uint8_t kMsrCts = 0x10;
inline constexpr uint8_t kMsrDsr = 0x20;
inline constexpr uint8_t kMsrRi = 0x40;
inline constexpr uint8_t kMsrDcd = 0x80;

inline constexpr size_t kFifoDepth = 16;

}  // namespace wisp::uart
