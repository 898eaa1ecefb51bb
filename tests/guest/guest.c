/*
 * kvmcluster's test guest: a bare-metal multiboot (v1) kernel for QEMU's -kernel loader. It fills buf MiB of
 * memory (the same bytes for the same seed, so two guests exercise KSM), dirties rate MiB/s of it (one write per
 * 4 KiB page, paced by the PIT at 100 Hz, halting in between so an idle guest costs no host CPU) and prints
 * "heartbeat N" on COM1 every second. A new heartbeat on the destination's serial log proves a migration worked.
 *
 * Kernel command line (-append): "buf=MiB rate=MiB/s seed=N". Build: see build.sh.
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
    interrupts_init();
    u32 per_tick = rate * (1024 * 1024 / PAGE) / HZ, next = 0, seen = 0, beats = 0;
    for (;;)
    {
        __asm__ volatile("hlt");
        while (seen != ticks)
        {
            seen++;
            for (u32 i = 0; i < per_tick && pages; i++) { mem[next * (PAGE / 4)] ^= seen; next = (next + 1) % pages; }
            if (seen % HZ == 0) { puts("heartbeat "); putu(++beats); puts("\n"); }
        }
    }
}

__asm__(".pushsection .text\n.globl _start\n_start:\n mov $stack_top, %esp\n push %ebx\n push %eax\n call kmain\n1: hlt\n jmp 1b\n.popsection\n"
        ".pushsection .bss\n.align 16\n.space 16384\nstack_top:\n.popsection\n");
