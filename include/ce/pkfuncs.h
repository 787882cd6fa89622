/* pkfuncs.h for cevm: the kernel-mode memory calls and the marshalling helpers of CE
 * (semantics.md §5 and §7), with CE's prototypes. Written for cevm. */
#ifndef CEVM_CE_PKFUNCS_H
#define CEVM_CE_PKFUNCS_H

#include "windows.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Argument descriptors of the marshalling helpers. */
#define ARG_DW 0x0
#define ARG_I_PTR 0x4
#define ARG_I_WSTR 0x5
#define ARG_I_ASTR 0x6
#define ARG_I_PDW 0x7
#define ARG_O_PTR 0x8
#define ARG_O_PDW 0x9
#define ARG_O_PI64 0xA
#define ARG_IO_PTR 0xC
#define ARG_IO_PDW 0xD
#define ARG_IO_PI64 0xE
#define MARSHAL_FORCE_ALIAS 0x80000000
#define MARSHAL_CICO_SIZE 520

LPVOID VirtualAllocCopyEx(HANDLE hSrcProc, HANDLE hDstProc, LPVOID pAddr, DWORD cbSize,
                          DWORD dwProtect);
BOOL VirtualCopy(LPVOID lpvDest, LPVOID lpvSrc, DWORD cbSize, DWORD fdwProtect);
BOOL VirtualCopyEx(HANDLE hDstProc, LPVOID lpvDest, HANDLE hSrcProc, LPVOID lpvSrc,
                   DWORD cbSize, DWORD fdwProtect);
BOOL LockPages(LPVOID lpvAddress, DWORD cbSize, PDWORD pPFNs, int fOptions);
BOOL LockPagesEx(HANDLE hProc, LPVOID lpvAddress, DWORD cbSize, LPDWORD pPFNs, DWORD fOptions);
BOOL UnlockPages(LPVOID lpvAddress, DWORD cbSize);
BOOL UnlockPagesEx(HANDLE hProc, LPVOID lpvAddress, DWORD cbSize);
LPVOID AllocPhysMem(DWORD cbSize, DWORD fdwProtect, DWORD dwAlignmentMask, DWORD dwFlags,
                    PULONG pPhysicalAddress);
BOOL FreePhysMem(LPVOID lpvAddress);
BOOL VirtualSetAttributes(LPVOID lpvAddress, DWORD cbSize, DWORD dwNewFlags, DWORD dwMask,
                          LPDWORD lpdwOldFlags);
BOOL VirtualSetAttributesEx(HANDLE hProcess, LPVOID lpvAddress, DWORD cbSize, DWORD dwNewFlags,
                            DWORD dwMask, LPDWORD lpdwOldFlags);
LPVOID CeVirtualSharedAlloc(LPVOID lpvAddress, DWORD cbSize, DWORD fdwAction);

DWORD GetCallerVMProcessId(void);
DWORD GetDirectCallerProcessId(void);
/* Both return process ids cast to HANDLE, as CE does. */
HANDLE GetCallerProcess(void);
HANDLE GetOwnerProcess(void);

HRESULT CeOpenCallerBuffer(PVOID *ppDestMarshalled, PVOID pSrcUnmarshalled, DWORD cbSrc,
                           DWORD ArgumentDescriptor, BOOL ForceDuplicate);
HRESULT CeCloseCallerBuffer(PVOID pDestMarshalled, PVOID pSrcUnmarshalled, DWORD cbSrc,
                            DWORD ArgumentDescriptor);
HRESULT CeAllocAsynchronousBuffer(PVOID *ppDestAsyncMarshalled, PVOID pSrcSyncMarshalled,
                                  DWORD cbSrc, DWORD ArgumentDescriptor);
HRESULT CeFreeAsynchronousBuffer(PVOID pDestAsyncMarshalled, PVOID pSrcSyncMarshalled,
                                 DWORD cbSrc, DWORD ArgumentDescriptor);
HRESULT CeFlushAsynchronousBuffer(PVOID pDestAsyncMarshalled, PVOID pSrcSyncMarshalled,
                                  PVOID pSrcUnmarshalled, DWORD cbSrc, DWORD ArgumentDescriptor);
HRESULT CeAllocDuplicateBuffer(PVOID *ppDestDuplicate, PVOID pSrcMarshalled, DWORD cbSrc,
                               DWORD ArgumentDescriptor);
HRESULT CeFreeDuplicateBuffer(PVOID pDestDuplicate, PVOID pSrcMarshalled, DWORD cbSrc,
                              DWORD ArgumentDescriptor);

#ifdef __cplusplus
}
#endif

#endif /* CEVM_CE_PKFUNCS_H */
