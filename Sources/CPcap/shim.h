#ifndef WSTRACE_CPCAP_SHIM_H
#define WSTRACE_CPCAP_SHIM_H
#include <pcap/pcap.h>
#include <stdio.h>
#endif
