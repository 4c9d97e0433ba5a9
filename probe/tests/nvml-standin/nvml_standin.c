/*
 * A stand-in libnvidia-ml.so.1 for nvprobe's cross-check tests (probe/tests/crosscheck.rs).
 * The tests compile it with `cc -shared -fPIC` into a temporary directory and point
 * LD_LIBRARY_PATH there, so the real nvprobe-shim loads it through the normal dlopen path.
 *
 * Build variants (chosen at compile time, because symbol tables are fixed at link time):
 *   (default)               the full set of symbols nvprobe-shim uses
 *   -DNVML_STANDIN_OLD      an old NVML: only the v1 names, no CUDA version, no compute
 *                           capability, no brand, no MIG, no NVML version
 *   -DNVML_STANDIN_NOT_NVML a library with that soname that exports no NVML function
 *
 * Behaviour (at run time), NVML_STANDIN_MODE:
 *   ok (default)            answer from the data below
 *   init-driver-not-loaded  nvmlInit* returns NVML_ERROR_DRIVER_NOT_LOADED (9)
 *   init-no-permission      nvmlInit* returns NVML_ERROR_NO_PERMISSION (4)
 *   init-rm-mismatch        nvmlInit* returns NVML_ERROR_LIB_RM_VERSION_MISMATCH (18)
 *   hang                    nvmlInit* never returns
 *   crash                   nvmlInit* dies of SIGSEGV
 *   noise                   nvmlInit* prints a warning to stdout (as the CUDA toolkit's stub
 *                           NVML does), then answers normally
 *   device-errors           UUID and MIG mode: NOT_SUPPORTED (3); memory: GPU_IS_LOST (15)
 * NVML_STANDIN_PIDFILE: when set, nvmlInit* writes the process id there first.
 *
 * Data (environment, all optional):
 *   NVML_STANDIN_DRIVER (580.95.05), NVML_STANDIN_NVML_VERSION (13.580.95.05),
 *   NVML_STANDIN_CUDA (13000), NVML_STANDIN_GPUS (1), and per GPU i:
 *   NVML_STANDIN_GPU<i>_BUSID (00000000:3B:00.0, bus 0x3b + i), _PCIID (0x233010DE: device
 *   << 16 | vendor), _SUBSYS (0x16C110DE), _NAME (NVIDIA H100 80GB HBM3), _UUID, _CC (9.0),
 *   _MEM (85520809984), _BRAND (2), _MIG (0).
 *
 * Types copied from nvml.h: nvmlReturn_t is an enum, nvmlDevice_t an opaque pointer,
 * nvmlPciInfo_t is 68 bytes, nvmlMemory_t three unsigned long longs.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

#ifdef NVML_STANDIN_NOT_NVML
EXPORT int not_nvml_at_all(void) { return 0; }
#else

typedef int nvmlReturn_t;
struct nvmlDevice_st { unsigned int index; };
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;

#define MAX_GPUS 16
static struct nvmlDevice_st devices[MAX_GPUS];
static int initialised;

static const char *env_or(const char *name, const char *dflt) {
    const char *v = getenv(name);
    return v ? v : dflt;
}

static int mode_is(const char *m) { return strcmp(env_or("NVML_STANDIN_MODE", "ok"), m) == 0; }

static const char *gpu_env(unsigned int i, const char *key, const char *dflt) {
    char name[64];
    snprintf(name, sizeof name, "NVML_STANDIN_GPU%u_%s", i, key);
    return env_or(name, dflt);
}

static unsigned int gpu_count(void) {
    unsigned long n = strtoul(env_or("NVML_STANDIN_GPUS", "1"), NULL, 0);
    return n > MAX_GPUS ? MAX_GPUS : (unsigned int)n;
}

static nvmlReturn_t copy_string(const char *s, char *buf, unsigned int len) {
    if (!buf) return 2;                 /* INVALID_ARGUMENT */
    if (strlen(s) + 1 > len) return 7;  /* INSUFFICIENT_SIZE */
    memcpy(buf, s, strlen(s) + 1);
    return 0;
}

static nvmlReturn_t check_device(nvmlDevice_t d) {
    if (!initialised) return 1;         /* UNINITIALIZED */
    if (d < devices || d >= devices + gpu_count()) return 2;
    return 0;
}

static nvmlReturn_t do_init(void) {
    const char *pidfile = getenv("NVML_STANDIN_PIDFILE");
    if (pidfile) {
        FILE *f = fopen(pidfile, "w");
        if (f) { fprintf(f, "%d\n", (int)getpid()); fclose(f); }
    }
    if (mode_is("init-driver-not-loaded")) return 9;
    if (mode_is("init-no-permission")) return 4;
    if (mode_is("init-rm-mismatch")) return 18;
    if (mode_is("hang")) { for (;;) pause(); }
    if (mode_is("crash")) {
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none);  /* no core file in the test's directory */
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
    if (mode_is("noise")) {
        printf("WARNING: You should always run with libnvidia-ml.so that is installed with your NVIDIA Display Driver.\n");
        fflush(stdout);
    }
    for (unsigned int i = 0; i < MAX_GPUS; i++) devices[i].index = i;
    initialised = 1;
    return 0;
}

EXPORT nvmlReturn_t nvmlInit(void) { return do_init(); }
EXPORT nvmlReturn_t nvmlShutdown(void) { initialised = 0; return 0; }

EXPORT const char *nvmlErrorString(nvmlReturn_t r) {
    switch (r) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 7: return "Insufficient Size";
    case 9: return "Driver Not Loaded";
    case 15: return "GPU is lost";
    case 18: return "RM has detected an NVML/RM version mismatch.";
    default: return "Unknown Error";
    }
}

EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *buf, unsigned int len) {
    if (!initialised) return 1;
    return copy_string(env_or("NVML_STANDIN_DRIVER", "580.95.05"), buf, len);
}

EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int *n) {
    if (!initialised) return 1;
    *n = gpu_count();
    return 0;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int i, nvmlDevice_t *d) {
    if (!initialised) return 1;
    if (i >= gpu_count()) return 2;
    *d = &devices[i];
    return 0;
}

static nvmlReturn_t pci_info(nvmlDevice_t d, nvmlPciInfo_t *p, int v3) {
    nvmlReturn_t r = check_device(d);
    if (r) return r;
    unsigned int i = d->index;
    char dflt[32];
    snprintf(dflt, sizeof dflt, "00000000:%02X:00.0", 0x3b + i);
    const char *bus_id = gpu_env(i, "BUSID", dflt);
    unsigned int domain = 0, bus = 0, device = 0;
    sscanf(bus_id, "%x:%x:%x", &domain, &bus, &device);
    memset(p, 0, v3 ? sizeof *p : 52);
    p->domain = domain;
    p->bus = bus;
    p->device = device;
    p->pciDeviceId = (unsigned int)strtoul(gpu_env(i, "PCIID", "0x233010DE"), NULL, 0);
    p->pciSubSystemId = (unsigned int)strtoul(gpu_env(i, "SUBSYS", "0x16C110DE"), NULL, 0);
    if (v3) {
        snprintf(p->busId, sizeof p->busId, "%s", bus_id);
        snprintf(p->busIdLegacy, sizeof p->busIdLegacy, "%04X:%02X:%02X.0", domain, bus, device);
    } else {
        /* The v1 call writes the legacy 16-byte form with a 4-digit domain. */
        snprintf(p->busIdLegacy, sizeof p->busIdLegacy, "%04X:%02X:%02X.0", domain, bus, device);
    }
    return 0;
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t d, nvmlPciInfo_t *p) { return pci_info(d, p, 0); }

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *buf, unsigned int len) {
    nvmlReturn_t r = check_device(d);
    return r ? r : copy_string(gpu_env(d->index, "NAME", "NVIDIA H100 80GB HBM3"), buf, len);
}

EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *buf, unsigned int len) {
    nvmlReturn_t r = check_device(d);
    if (r) return r;
    if (mode_is("device-errors")) return 3;
    char dflt[64];
    snprintf(dflt, sizeof dflt, "GPU-8f6c0e2a-1b3d-4c5e-9f70-1234567890%02u", d->index);
    return copy_string(gpu_env(d->index, "UUID", dflt), buf, len);
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m) {
    nvmlReturn_t r = check_device(d);
    if (r) return r;
    if (mode_is("device-errors")) return 15;
    m->total = strtoull(gpu_env(d->index, "MEM", "85520809984"), NULL, 0);
    m->used = m->total / 100;
    m->free = m->total - m->used;
    return 0;
}

#ifndef NVML_STANDIN_OLD
EXPORT nvmlReturn_t nvmlInit_v2(void) { return do_init(); }

EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char *buf, unsigned int len) {
    if (!initialised) return 1;
    return copy_string(env_or("NVML_STANDIN_NVML_VERSION", "13.580.95.05"), buf, len);
}

static nvmlReturn_t cuda_version(int *v) {
    if (!initialised) return 1;
    *v = atoi(env_or("NVML_STANDIN_CUDA", "13000"));
    return 0;
}
EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *v) { return cuda_version(v); }
EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v) { return cuda_version(v); }

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n) { return nvmlDeviceGetCount(n); }
EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d) {
    return nvmlDeviceGetHandleByIndex(i, d);
}
EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t d, nvmlPciInfo_t *p) { return pci_info(d, p, 1); }
EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t *p) { return pci_info(d, p, 1); }

EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t d, int *major, int *minor) {
    nvmlReturn_t r = check_device(d);
    if (r) return r;
    if (sscanf(gpu_env(d->index, "CC", "9.0"), "%d.%d", major, minor) != 2) return 3;
    return 0;
}

EXPORT nvmlReturn_t nvmlDeviceGetBrand(nvmlDevice_t d, unsigned int *b) {
    nvmlReturn_t r = check_device(d);
    if (r) return r;
    *b = (unsigned int)strtoul(gpu_env(d->index, "BRAND", "2"), NULL, 0);
    return 0;
}

EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t d, unsigned int *current, unsigned int *pending) {
    nvmlReturn_t r = check_device(d);
    if (r) return r;
    if (mode_is("device-errors")) return 3;
    *current = *pending = (unsigned int)strtoul(gpu_env(d->index, "MIG", "0"), NULL, 0);
    return 0;
}
#endif /* NVML_STANDIN_OLD */
#endif /* NVML_STANDIN_NOT_NVML */
