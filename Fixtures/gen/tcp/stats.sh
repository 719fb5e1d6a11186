#!/usr/bin/env bash
# Prints a markdown table of tshark's tcp.analysis counts (number of packets
# carrying each flag) for every pcap in DIR (default Fixtures/tcp).
set -euo pipefail
DIR=${1:-$(dirname "$0")/../../tcp}
FIELDS=(retransmission fast_retransmission spurious_retransmission out_of_order
        duplicate_ack lost_segment ack_lost_segment zero_window zero_window_probe
        window_full keep_alive keep_alive_ack)
hdr="| fixture | bytes | packets |"; sep="|---|---|---|"
for f in "${FIELDS[@]}"; do hdr+=" $f |"; sep+="---|"; done
echo "$hdr SYN+data | segment.overlap | overlap.conflict |"; echo "$sep---|---|---|"
for pcap in "$DIR"/*.pcap; do
  args=(-e frame.number)
  for f in "${FIELDS[@]}"; do args+=(-e "tcp.analysis.$f"); done
  args+=(-e tcp.flags.syn -e tcp.len -e tcp.segment.overlap -e tcp.segment.overlap.conflict)
  row=$(tshark -r "$pcap" -T fields -E separator=/t "${args[@]}" 2>/dev/null | awk -F'\t' -v n=${#FIELDS[@]} '
    { pk++; for (i = 2; i <= n + 1; i++) if ($i != "") c[i]++
      if ($(n + 2) == "1" && $(n + 3) + 0 > 0) syn++
      if ($(n + 4) != "") ov++
      if ($(n + 5) != "") oc++ }
    END { printf "%d |", pk; for (i = 2; i <= n + 1; i++) printf " %d |", c[i]; printf " %d | %d | %d |", syn, ov, oc }')
  echo "| $(basename "$pcap") | $(stat -c %s "$pcap") | $row"
done
