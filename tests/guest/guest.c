/*
 * kvmcluster's test guest: a bare-metal multiboot (v1) kernel for QEMU's -kernel loader. It fills buf MiB of
 * memory (the same bytes for the same seed, so two guests exercise KSM), dirties rate MiB/s of it (one write per
 * 4 KiB page, paced by the PIT at 100 Hz, halting in between so an idle guest costs no host CPU) and prints
 * "heartbeat N" on COM1 every second. A new heartbeat on the destination's serial log proves a migration worked.
 *
 * It also drives QEMU's virtio-balloon (legacy PCI interface): when the host asks for N pages it hands over the
 * top N pages of its RAM (which it never touches) and reports them, so the host sees the guest's memory shrink.
 *
 * With disk=1 it writes to every virtio-blk disk (legacy PCI, up to two): "heartbeat N" in sector N before it prints
 * heartbeat N, and at boot fill=MiB of seeded data from sector 65536 (32 MiB) on. So a disk that migrated has every
 * heartbeat the guest printed, in order, whichever host wrote it.
 *
 * It answers PCIe native hot-plug on the root ports (polled): a device plugged in gets its slot powered on
 * ("slot N on VVVV:DDDD"), the attention button on a powered slot (device_del) powers it off ("slot N off"), which
 * is how the guest lets QEMU remove the device.
 *
 * Kernel command line (-append): "buf=MiB rate=MiB/s seed=N disk=0|1 fill=MiB". Build: see build.sh.
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

#define MB_MAGIC 0x1BADB002u
#define MB_FLAGS 0x00000003u /* page-align modules, memory info */
__attribute__((section(".multiboot"), used)) static const u32 multiboot_header[3] = {MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)};

#define BUFFER_BASE 0x01000000u /* 16 MiB: clear of the kernel and the BIOS areas */
#define PAGE 4096u
#define HZ 100u

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline u16 inw(u16 port) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
#define barrier() __asm__ volatile("" ::: "memory")

static void serial_init(void)
{
    outb(0x3F9, 0x00); outb(0x3FB, 0x80); outb(0x3F8, 0x01); outb(0x3F9, 0x00); /* 115200 baud */
    outb(0x3FB, 0x03); outb(0x3FA, 0xC7); outb(0x3FC, 0x0B);
}
static void putc(char c) { while (!(inb(0x3FD) & 0x20)) {} outb(0x3F8, (u8)c); }
static void puts(const char *s) { while (*s) putc(*s++); }
static void putu(u32 v) { char b[11]; int i = 10; b[i] = 0; do { b[--i] = (char)('0' + v % 10); v /= 10; } while (v); puts(b + i); }

static u32 arg(const char *cmdline, const char *key, u32 fallback)
{
    for (const char *p = cmdline; p && *p; p++)
    {
        const char *k = key, *q = p;
        while (*k && *q == *k) { k++; q++; }
        if (*k || *q != '=' || (p != cmdline && p[-1] != ' ')) continue;
        u32 v = 0;
        for (q++; *q >= '0' && *q <= '9'; q++) v = v * 10 + (u32)(*q - '0');
        return v;
    }
    return fallback;
}

/* Flat segments of our own: the multiboot loader's GDT may be gone. */
static u32 gdt[6] = {0, 0, 0x0000FFFF, 0x00CF9A00, 0x0000FFFF, 0x00CF9200};
static struct { u16 limit; u32 base; } __attribute__((packed)) gdtr = {sizeof gdt - 1, (u32)gdt};
static u32 idt[2 * 256];
static struct { u16 limit; u32 base; } __attribute__((packed)) idtr = {sizeof idt - 1, (u32)idt};

static volatile u32 ticks;
void tick(void) { ticks++; outb(0x20, 0x20); }
__asm__(".pushsection .text\n.globl irq0\nirq0:\n pusha\n cld\n call tick\n popa\n iret\n.popsection\n");
void irq0(void);

static void interrupts_init(void)
{
    __asm__ volatile("lgdt %0\n ljmp $0x08, $1f\n 1: mov $0x10, %%ax\n mov %%ax, %%ds\n mov %%ax, %%es\n mov %%ax, %%ss\n" : : "m"(gdtr) : "eax");
    u32 handler = (u32)irq0;
    idt[2 * 32] = (0x08u << 16) | (handler & 0xFFFF);     /* IRQ0 remapped to vector 32 */
    idt[2 * 32 + 1] = (handler & 0xFFFF0000u) | 0x8E00;    /* present, ring 0, 32-bit interrupt gate */
    __asm__ volatile("lidt %0" : : "m"(idtr));
    outb(0x20, 0x11); outb(0xA0, 0x11); outb(0x21, 32); outb(0xA1, 40); /* remap the PICs */
    outb(0x21, 4); outb(0xA1, 2); outb(0x21, 1); outb(0xA1, 1);
    outb(0x21, 0xFE); outb(0xA1, 0xFF);                                  /* only the timer */
    u32 divisor = 1193182u / HZ;
    outb(0x43, 0x36); outb(0x40, (u8)divisor); outb(0x40, (u8)(divisor >> 8));
    __asm__ volatile("sti");
}

/* ---- virtio-balloon, legacy PCI (ports: features 0x00/0x04, queue pfn 0x08, size 0x0C, select 0x0E, notify 0x10,
 * status 0x12, config 0x14: num_pages, 0x18: actual) ---- */
#define RING_BASE 0x00800000u /* 8 MiB: two queues of rings, and the page-number array */
struct desc { u32 addr_lo, addr_hi, len; u16 flags, next; };
struct vq { volatile struct desc *desc; volatile u16 *avail; volatile u16 *used; u16 size, seen; };
static u16 balloon_io;
static struct vq queues[2];
static u32 top_pfn, given;

static u32 pci_read(u32 dev, u32 off) { outl(0xCF8, 0x80000000u | (dev << 11) | (off & 0xFC)); return inl(0xCFC); }
static void pci_write(u32 dev, u32 off, u32 v) { outl(0xCF8, 0x80000000u | (dev << 11) | (off & 0xFC)); outl(0xCFC, v); }

/* One virtqueue of a legacy virtio device at I/O port io: its rings in the 64 KiB at base. */
static void vq_init(u16 io, u16 q, struct vq *v, u32 base)
{
    outw(io + 0x0E, q);
    u16 size = inw(io + 0x0C);
    for (u32 i = 0; i < 0x10000u / 4; i++) ((volatile u32 *)base)[i] = 0;
    v->desc = (volatile struct desc *)base;
    v->avail = (volatile u16 *)(base + 16 * size);
    v->used = (volatile u16 *)(base + ((16 * size + 6 + 2 * size + 4095) & ~4095u));
    v->size = size;
    outl(io + 0x08, base >> 12);
}

/* Offers the chain starting at descriptor 0 on queue q and waits until the device has used it. */
static void vq_kick(u16 io, u16 q, struct vq *v)
{
    u16 idx = v->avail[1];
    v->avail[2 + idx % v->size] = 0;
    barrier();
    v->avail[1] = (u16)(idx + 1);
    barrier();
    outw(io + 0x10, q);
    while (v->used[1] == v->seen) barrier();
    v->seen = v->used[1];
}

static void balloon_init(u32 mem_upper_kib)
{
    for (u32 dev = 0; dev < 32; dev++)
    {
        if (pci_read(dev, 0) != ((0x1002u << 16) | 0x1AF4u)) continue; /* legacy virtio balloon */
        balloon_io = (u16)(pci_read(dev, 0x10) & ~3u);
        pci_write(dev, 0x04, pci_read(dev, 0x04) | 0x5); /* I/O space, bus master */
        break;
    }
    if (!balloon_io) { puts("no balloon\n"); return; }
    top_pfn = (1024 + mem_upper_kib) / 4; /* first page above RAM */
    outb(balloon_io + 0x12, 0); outb(balloon_io + 0x12, 1 | 2); /* reset, acknowledge, driver */
    outl(balloon_io + 0x04, 0);
    for (u16 q = 0; q < 2; q++) vq_init(balloon_io, q, &queues[q], RING_BASE + q * 0x10000u);
    outb(balloon_io + 0x12, 1 | 2 | 4); /* driver ok */
    puts("balloon ready\n");
}

/* Sends n page numbers (u32 each) on queue q and waits for the host to take them. */
static void balloon_send(int q, u32 *pfns, u32 n)
{
    struct vq *v = &queues[q];
    v->desc[0].addr_lo = (u32)pfns; v->desc[0].addr_hi = 0; v->desc[0].len = n * 4; v->desc[0].flags = 0; v->desc[0].next = 0;
    vq_kick(balloon_io, (u16)q, v);
}

static void balloon_tick(void)
{
    if (!balloon_io) return;
    u32 target = inl(balloon_io + 0x14);
    if (target == given) return;
    static u32 pfns[256];
    u32 n = 0;
    if (target > given) { while (n < 256 && given + n < target) { pfns[n] = top_pfn - 1 - (given + n); n++; } balloon_send(0, pfns, n); given += n; }
    else { while (n < 256 && given - n > target) { pfns[n] = top_pfn - given + n; n++; } balloon_send(1, pfns, n); given -= n; }
    outl(balloon_io + 0x18, given);
}

/* ---- virtio-blk, legacy PCI (queue 0; requests: header, data, status), polled ---- */
#define BLK_RINGS (RING_BASE + 0x20000u)  /* one 64 KiB ring area per disk */
#define BLK_DATA (RING_BASE + 0x40000u)   /* a 64 KiB data buffer, then header and status */
#define MAX_DISKS 2
static u16 blk_io[MAX_DISKS];
static struct vq blk_q[MAX_DISKS];
static u32 disks;

static void blk_init(void)
{
    for (u32 dev = 0; dev < 32 && disks < MAX_DISKS; dev++)
    {
        if (pci_read(dev, 0) != ((0x1001u << 16) | 0x1AF4u)) continue; /* legacy virtio-blk */
        u16 io = (u16)(pci_read(dev, 0x10) & ~3u);
        pci_write(dev, 0x04, pci_read(dev, 0x04) | 0x5);
        outb(io + 0x12, 0); outb(io + 0x12, 1 | 2);
        outl(io + 0x04, 0);
        vq_init(io, 0, &blk_q[disks], BLK_RINGS + disks * 0x10000u);
        outb(io + 0x12, 1 | 2 | 4);
        blk_io[disks++] = io;
    }
    puts("disks "); putu(disks); puts("\n");
}

/* Writes len bytes (a multiple of 512, at most 64 KiB) from BLK_DATA to sector on disk d; 0 when the device says OK. */
static u8 blk_write(u32 d, u32 sector, u32 len)
{
    volatile u32 *hdr = (volatile u32 *)(BLK_DATA + 0x10000u);
    volatile u8 *status = (volatile u8 *)(BLK_DATA + 0x10010u);
    hdr[0] = 1; hdr[1] = 0; hdr[2] = sector; hdr[3] = 0; /* VIRTIO_BLK_T_OUT */
    *status = 0xFF;
    struct vq *v = &blk_q[d];
    v->desc[0].addr_lo = (u32)hdr; v->desc[0].addr_hi = 0; v->desc[0].len = 16; v->desc[0].flags = 1; v->desc[0].next = 1;
    v->desc[1].addr_lo = BLK_DATA; v->desc[1].addr_hi = 0; v->desc[1].len = len; v->desc[1].flags = 1; v->desc[1].next = 2;
    v->desc[2].addr_lo = (u32)status; v->desc[2].addr_hi = 0; v->desc[2].len = 1; v->desc[2].flags = 2; v->desc[2].next = 0;
    vq_kick(blk_io[d], 0, v);
    return *status;
}

static void blk_heartbeat(u32 beat)
{
    volatile char *b = (volatile char *)BLK_DATA;
    const char *text = "heartbeat ";
    u32 n = 0;
    while (text[n]) { b[n] = text[n]; n++; }
    char digits[11]; int i = 10; digits[i] = 0; u32 v = beat;
    do { digits[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    while (digits[i]) b[n++] = digits[i++];
    b[n++] = '\n';
    while (n < 512) b[n++] = 0;
    for (u32 d = 0; d < disks; d++) if (blk_write(d, beat, 512)) { puts("disk write failed\n"); }
}

static void blk_fill(u32 mib, u32 seed)
{
    u32 x = seed * 40503u + 7;
    for (u32 chunk = 0; chunk < mib * 16; chunk++)
    {
        for (u32 i = 0; i < 0x10000u / 4; i++) { x = x * 1664525u + 1013904223u; ((volatile u32 *)BLK_DATA)[i] = x; }
        for (u32 d = 0; d < disks; d++) blk_write(d, 65536 + chunk * 128, 0x10000u);
    }
    puts("filled "); putu(mib); puts(" MiB\n");
}

/* ---- PCIe native hot-plug on root ports (bus 0), polled ---- */
#define MAX_PORTS 8
static u32 ports[MAX_PORTS], port_cap[MAX_PORTS], nports;

static u32 cfg_addr(u32 bus, u32 dev, u32 off) { return 0x80000000u | (bus << 16) | (dev << 11) | (off & 0xFC); }
static u16 cfg_read16(u32 bus, u32 dev, u32 off) { outl(0xCF8, cfg_addr(bus, dev, off)); return inw((u16)(0xCFC + (off & 2))); }
static void cfg_write16(u32 bus, u32 dev, u32 off, u16 v) { outl(0xCF8, cfg_addr(bus, dev, off)); outw((u16)(0xCFC + (off & 2)), v); }
static void puthex16(u16 v) { const char *h = "0123456789abcdef"; for (int i = 12; i >= 0; i -= 4) putc(h[(v >> i) & 15]); }

static void hotplug_init(void)
{
    for (u32 dev = 0; dev < 32 && nports < MAX_PORTS; dev++)
    {
        if ((pci_read(dev, 0) & 0xFFFF) == 0xFFFF || ((pci_read(dev, 0x0C) >> 16) & 0x7F) != 1) continue; /* bridges only */
        for (u32 cap = pci_read(dev, 0x34) & 0xFC; cap; cap = (pci_read(dev, cap) >> 8) & 0xFC)
        {
            if ((pci_read(dev, cap) & 0xFF) != 0x10) continue;                      /* PCI Express capability */
            if (!(pci_read(dev, cap + 0x14) & (1u << 6))) break;                   /* slot not hot-plug capable */
            ports[nports] = dev; port_cap[nports++] = cap;
            break;
        }
    }
    puts("hotplug ports "); putu(nports); puts("\n");
}

static void hotplug_tick(void)
{
    for (u32 i = 0; i < nports; i++)
    {
        u32 dev = ports[i], cap = port_cap[i];
        u16 status = cfg_read16(0, dev, cap + 0x1A);
        if (!(status & 0x0009)) continue;                   /* attention button pressed / presence detect changed */
        cfg_write16(0, dev, cap + 0x1A, status & 0x0019);    /* clear them (write 1 to clear) */
        u16 control = cfg_read16(0, dev, cap + 0x18);
        int powered = !(control & 0x0400);
        if (!powered && (status & 0x0040))                   /* a device is present in an unpowered slot: power on */
        {
            cfg_write16(0, dev, cap + 0x18, (u16)((control & ~0x0700) | 0x0100));
            u32 bus = (pci_read(dev, 0x18) >> 8) & 0xFF;
            outl(0xCF8, cfg_addr(bus, 0, 0));
            u32 id = inl(0xCFC);
            puts("slot "); putu(i); puts(" on "); puthex16((u16)id); putc(':'); puthex16((u16)(id >> 16)); puts("\n");
        }
        else if (powered && (status & 0x0001))               /* the attention button on a powered slot: power off */
        {
            cfg_write16(0, dev, cap + 0x18, (u16)(control | 0x0400 | 0x0300));
            puts("slot "); putu(i); puts(" off\n");
        }
    }
}

void kmain(u32 magic, u32 *info)
{
    serial_init();
    const char *cmdline = (magic == 0x2BADB002u && (info[0] & 4)) ? (const char *)info[4] : "";
    u32 buf = arg(cmdline, "buf", 64), rate = arg(cmdline, "rate", 0), seed = arg(cmdline, "seed", 1);
    u32 pages = buf * (1024 * 1024 / PAGE);
    volatile u32 *mem = (volatile u32 *)BUFFER_BASE;
    u32 x = seed * 2654435761u + 1;
    for (u32 i = 0; i < pages * (PAGE / 4); i++) { x = x * 1664525u + 1013904223u; mem[i] = x; }
    puts("ready buf="); putu(buf); puts(" rate="); putu(rate); puts(" seed="); putu(seed); puts("\n");
    balloon_init((magic == 0x2BADB002u && (info[0] & 1)) ? info[2] : 0);
    u32 disk = arg(cmdline, "disk", 0);
    if (disk) { blk_init(); blk_fill(arg(cmdline, "fill", 0), seed); }
    hotplug_init();
    interrupts_init();
    u32 per_tick = rate * (1024 * 1024 / PAGE) / HZ, next = 0, seen = 0, beats = 0;
    for (;;)
    {
        __asm__ volatile("hlt");
        while (seen != ticks)
        {
            seen++;
            for (u32 i = 0; i < per_tick && pages; i++) { mem[next * (PAGE / 4)] ^= seen; next = (next + 1) % pages; }
            if (seen % 10 == 0) balloon_tick();
            hotplug_tick();
            if (seen % HZ == 0) { ++beats; if (disks) blk_heartbeat(beats); puts("heartbeat "); putu(beats); puts("\n"); }
        }
    }
}

__asm__(".pushsection .text\n.globl _start\n_start:\n mov $stack_top, %esp\n push %ebx\n push %eax\n call kmain\n1: hlt\n jmp 1b\n.popsection\n"
        ".pushsection .bss\n.align 16\n.space 16384\nstack_top:\n.popsection\n");
