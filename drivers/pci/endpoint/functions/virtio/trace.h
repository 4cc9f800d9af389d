/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Virtio devices behind a PCIe endpoint function: tracepoints.
 *
 * The legacy set-up races the poll thread (see epf_virtio_poll_regs()):
 * when a host gives up on a device, or sets a queue up out of order, what
 * the thread saw of the set-up tells whether it missed a register write.
 * Enable the pci_epf_virtio events in tracefs before the host driver binds:
 *
 *	echo 1 > /sys/kernel/tracing/events/pci_epf_virtio/enable
 */

#undef TRACE_SYSTEM
#define TRACE_SYSTEM pci_epf_virtio

#if !defined(_PCI_EPF_VIRTIO_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _PCI_EPF_VIRTIO_TRACE_H

#include <linux/tracepoint.h>

/* The host wrote a new device status */
TRACE_EVENT(epf_virtio_status,
	    TP_PROTO(struct device *dev, u8 old, u8 status),
	    TP_ARGS(dev, old, status),
	    TP_STRUCT__entry(__string(dev, dev_name(dev))
			     __field(u8, old)
			     __field(u8, status)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->old = old;
			   __entry->status = status;),
	    TP_printk("%s status %#x -> %#x", __get_str(dev), __entry->old,
		      __entry->status)
);

/*
 * Set-up registers as one poll saw them, when any differs from the last
 * poll or a queue address came: the status, QUEUE_SEL, the QUEUE_PFN taken
 * (0: none), and the two vector registers (offsets 20 and 22 with MSI-X).
 */
TRACE_EVENT(epf_virtio_setup,
	    TP_PROTO(struct device *dev, u8 status, u16 sel, u32 pfn,
		     u16 vec20, u16 vec22),
	    TP_ARGS(dev, status, sel, pfn, vec20, vec22),
	    TP_STRUCT__entry(__string(dev, dev_name(dev))
			     __field(u8, status)
			     __field(u16, sel)
			     __field(u32, pfn)
			     __field(u16, vec20)
			     __field(u16, vec22)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->status = status;
			   __entry->sel = sel;
			   __entry->pfn = pfn;
			   __entry->vec20 = vec20;
			   __entry->vec22 = vec22;),
	    TP_printk("%s status %#x sel %u pfn %#x at20 %#x at22 %#x",
		      __get_str(dev), __entry->status, __entry->sel,
		      __entry->pfn, __entry->vec20, __entry->vec22)
);

#endif /* _PCI_EPF_VIRTIO_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
