/* ceddk.h for cevm: device I/O space mapping (semantics.md §5.9). Written for cevm. */
#ifndef CEVM_CE_CEDDK_H
#define CEVM_CE_CEDDK_H

#include "windows.h"

#ifdef __cplusplus
extern "C" {
#endif

PVOID MmMapIoSpace(PHYSICAL_ADDRESS PhysicalAddress, ULONG NumberOfBytes, BOOLEAN CacheEnable);
VOID MmUnmapIoSpace(PVOID BaseAddress, ULONG NumberOfBytes);

#ifdef __cplusplus
}
#endif

#endif /* CEVM_CE_CEDDK_H */
