// wsbench: benchmark helpers for wstrace.
//   wsbench generate OUT.pcap SIZE_MIB [--deflate [--takeover]] [--tls13|--tls12] [--max-open N]
//       writes a realistic capture, prints its counts as JSON; with --tls13/--tls12 the traffic
//       is wss (AES-128-GCM), OUT.keys its key log and OUT-cleartext.pcap the same traffic in clear
//   wsbench pcap-loop FILE                                            a bare pcap_next_ex loop (the floor), prints packets and bytes
//   wsbench reader FILE [WORKERS]     the parallel engine's reader alone (batches filled and routed, no worker): its
//                                     cost per packet, under callgrind, against a whole analysis
//   wsbench reader FILE WORKERS COPIERS [CHUNK_KIB]   the chunked reading alone: COPIERS threads copy chunks
//                                     ahead, the calling thread sequences them (its CPU time: the serial part)
//   wsbench time CMD [ARG...]         runs CMD with its output discarded; prints "SECONDS PEAK_RSS_KIB STATUS"
//                                     (/usr/bin/time's %e %M, for machines without it: scripts/many-cores.sh)
import CPcap
import WSCapture
import WSDecode
import WSEngine
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

let args = CommandLine.arguments
func fail(_ message: String) -> Never {
    let line = Array("wsbench: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(64)
}

switch args.count > 1 ? args[1] : "" {
case "generate":
    guard args.count >= 4, let mib = Int(args[3]) else { fail("usage: wsbench generate OUT.pcap SIZE_MIB [--deflate [--takeover]] [--tls13|--tls12] [--max-open N] [--exchanges MIN-MAX]") }
    let deflate = args.contains("--deflate")
    var maxOpen = 1000
    if let i = args.firstIndex(of: "--max-open"), i + 1 < args.count, let n = Int(args[i + 1]) { maxOpen = n }
    var exchanges = 30...120
    if let i = args.firstIndex(of: "--exchanges"), i + 1 < args.count {
        let bounds = args[i + 1].split(separator: "-").compactMap { Int($0) }
        guard bounds.count == 2, bounds[0] >= 0, bounds[0] <= bounds[1] else { fail("--exchanges: MIN-MAX, e.g. 1-3") }
        exchanges = bounds[0]...bounds[1]
    }
    let tls: GeneratedTLS = args.contains("--tls13") ? .tls13 : args.contains("--tls12") ? .tls12 : .none
    guard let generator = CaptureGenerator(path: args[2], targetBytes: mib << 20, maxOpen: maxOpen, deflate: deflate,
                                           takeover: args.contains("--takeover"), tls: tls, exchanges: exchanges) else {
        fail("cannot write \(args[2])")
    }
    let c = generator.run()
    print("{\"connections\": \(c.connections), \"packets\": \(c.packets), \"frames\": \(c.frames), \"messages\": \(c.messages), "
          + "\"text\": \(c.text), \"binary\": \(c.binary), \"ping\": \(c.ping), \"pong\": \(c.pong), \"close\": \(c.close), "
          + "\"long_frames\": \(c.longFrames)}")
case "reader":
    guard args.count >= 3 else { fail("usage: wsbench reader FILE [WORKERS [COPIERS [CHUNK_KIB]]]") }
    let workers = args.count >= 4 ? Int(args[3]) ?? 2 : 2
    guard let reader = try? CaptureReader(paths: [args[2]], filter: nil), let link = LinkType(dlt: reader.linkType) else {
        fail("cannot read \(args[2])")
    }
    if args.count >= 5, let copiers = Int(args[4]) {
        // The chunked reading: COPIERS threads copy chunks ahead, this thread sequences them.
        let kib = args.count >= 6 ? Int(args[5]) ?? 1024 : 1024
        guard let chunks = reader.chunks(bytes: kib << 10) else { fail("not a classic pcap file read in chunks") }
        let c = ParallelEngine.readOnly(chunks: chunks, linkType: link, workers: workers, copiers: copiers)
        print("{\"packets\": \(c.packets), \"broadcast\": \(c.broadcast), \"per_worker\": \(c.perWorker), "
              + "\"chunks\": \(chunks.count), \"rewalked\": \(c.rewalked), \"sequencer_cpu_s\": \(c.sequencerSeconds), \"sequence_s\": \(c.sequenceSeconds)}")
    } else {
        let counts = ParallelEngine.readOnly(fill: { reader.fill($0) }, linkType: link, workers: workers)
        print("{\"packets\": \(counts.packets), \"broadcast\": \(counts.broadcast), \"per_worker\": \(counts.perWorker)}")
    }
case "pcap-loop":
    guard args.count >= 3 else { fail("usage: wsbench pcap-loop FILE") }
    var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
    guard let file = fopen(args[2], "rb") else { fail("cannot open \(args[2])") }
    setvbuf(file, nil, _IOFBF, 1 << 20)
    guard let pcap = pcap_fopen_offline_with_tstamp_precision(file, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
        fail("not a capture")
    }
    var header: UnsafeMutablePointer<pcap_pkthdr>?
    var data: UnsafePointer<UInt8>?
    var packets = 0
    var bytes = 0
    var checksum: UInt8 = 0
    while pcap_next_ex(pcap, &header, &data) == 1 {
        packets += 1
        bytes += Int(header!.pointee.caplen)
        checksum ^= data![0]  // touch the data so the loop cannot be optimized away
    }
    pcap_close(pcap)
    print("{\"packets\": \(packets), \"bytes\": \(bytes), \"x\": \(checksum)}")
case "time":
    guard args.count >= 3 else { fail("usage: wsbench time CMD [ARG...]") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var argv: [UnsafeMutablePointer<CChar>?] = args[2...].map { strdup($0) }
    argv.append(nil)
    var began = timespec()
    clock_gettime(CLOCK_MONOTONIC, &began)
    var pid: pid_t = 0
    guard posix_spawnp(&pid, args[2], &actions, nil, argv, environ) == 0 else { fail("cannot run \(args[2])") }
    var status: Int32 = 0
    var usage = rusage()
    guard wait4(pid, &status, 0, &usage) == pid else { fail("lost \(args[2])") }
    var ended = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ended)
    let ms = (ended.tv_sec - began.tv_sec) * 1000 + (ended.tv_nsec - began.tv_nsec) / 1_000_000
    let fraction = String(ms % 1000)
    // Exit status as the shell tells it: the code, or 128 + the signal.
    let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    print("\(ms / 1000).\(String(repeating: "0", count: 3 - fraction.count) + fraction) \(usage.ru_maxrss) \(code)")
default:
    fail("usage: wsbench generate|pcap-loop|reader|time ...")
}
