#!/usr/bin/env python3
"""Input files for scripts/bench-e2e.sh, for one rule count N:

  doc-N.json   a vault document with N IP rules (random public /32 and /24,
               seeded), defaultAction Deny, tcp/443 protected, no bypass
  nft-N.nft    the same prefixes as an nftables interval set used by a
               netdev ingress chain on the vault's interface
  flood.trafgen  TCP SYNs to 192.0.2.10:443 from random sources with valid
               IPv4 and TCP checksums and the vault's MAC as destination

usage: e2e_files.py OUTDIR DUT_IFACE DUT_MAC GEN_MAC N [N...]
"""
import ipaddress
import json
import random
import sys

SPECIAL = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3")]


def prefixes(n, seed=20250303):
    rng = random.Random(seed)
    out, seen = [], set()
    while len(out) < n:
        addr = ipaddress.ip_address(rng.getrandbits(32))
        if any(addr in s for s in SPECIAL):
            continue
        length = 32 if len(out) % 2 == 0 else 24
        net = ipaddress.ip_network(f"{addr}/{length}", strict=False)
        if net not in seen:
            seen.add(net)
            out.append(net)
    return out


def main():
    outdir, iface, dut_mac, gen_mac = sys.argv[1:5]
    for n in map(int, sys.argv[5:]):
        nets = prefixes(n)
        rules = [{"value": str(p.network_address) if p.prefixlen == 32 else str(p)} for p in nets]
        doc = {
            "properties": {
                "publicNetworkAccess": "Enabled",
                "networkAcls": {"defaultAction": "Deny", "bypass": "None",
                                "ipRules": rules, "virtualNetworkRules": []},
            },
            "vaultwall": {"profile": "akv-current", "limits": {"maxIpRules": n},
                          "dataPlane": {"ports": ["tcp/443"]}},
        }
        with open(f"{outdir}/doc-{n}.json", "w") as f:
            json.dump(doc, f)
        with open(f"{outdir}/nft-{n}.nft", "w") as f:
            f.write("table netdev vwbe {\n  set allow {\n    type ipv4_addr\n    flags interval\n"
                    "    auto-merge\n    elements = { " + ",\n".join(map(str, nets)) + " }\n  }\n"
                    f"  chain ingress {{\n    type filter hook ingress device \"{iface}\" priority -500; policy accept;\n"
                    "    tcp dport 443 ip saddr @allow counter accept\n"
                    "    tcp dport 443 counter drop\n  }\n}\n")
    mac = lambda m: ", ".join("0x" + b for b in m.split(":"))
    with open(f"{outdir}/flood.trafgen", "w") as f:
        f.write(f"""/* TCP SYN, 54 B (no padding: csumtcp sums to the end of the frame), random source address and port */
{{
  {mac(dut_mac)}, {mac(gen_mac)}, 0x08, 0x00,
  0x45, 0x00, 0x00, 0x28, drnd(2), 0x40, 0x00, 0x40, 0x06, csumip(14, 33),
  drnd(4),
  192, 0, 2, 10,
  drnd(2), 0x01, 0xbb, drnd(4), 0x00, 0x00, 0x00, 0x00,
  0x50, 0x02, 0x20, 0x00, csumtcp(14, 34), 0x00, 0x00
}}
""")


if __name__ == "__main__":
    main()
