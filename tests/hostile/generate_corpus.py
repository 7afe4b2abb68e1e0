#!/usr/bin/env python3
"""Writes tests/data/hostile/: invalid rule documents, each with the JSON
path its error must name and a fragment of the message, in expected.tsv.

Deterministic (no randomness): re-running it rewrites the same files.
Categories: syntax errors, wrong types, bad and out-of-range
CIDRs, /33, host bits, IPv6, private and other non-public ranges, limits + 1,
unknown fields, duplicate keys, empty files, invalid UTF-8, deep nesting.
Huge files are made at test time (tests/hostile/hostile_test.cpp) so the
repository stays small.

  tests/hostile/generate_corpus.py [OUT_DIR]
"""
import json
import os
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "data", "hostile")

VNET = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/app-vnet"


def base():
    """A valid document that uses every section, in the wrapper form."""
    return {
        "networkAcls": {
            "defaultAction": "Deny",
            "bypass": "AzureServices",
            "ipRules": [{"value": "203.0.113.0/24"}, {"value": "198.51.100.7"},
                        {"value": "192.0.2.0/25"}],
            "virtualNetworkRules": [{"id": VNET + "/subnets/web",
                                     "ignoreMissingVnetServiceEndpoint": False}],
        },
        "vaultwall": {
            "profile": "akv-2018",
            "dataPlane": {"ports": ["tcp/443"], "addresses": ["192.0.2.10"]},
            "privateEndpoints": ["10.20.0.5"],
            "virtualNetworks": [{
                "id": VNET,
                "segment": {"interface": "lo", "vlan": 100},
                "subnets": [{"name": "web", "addressPrefix": "10.1.0.0/24",
                             "serviceEndpoints": ["Microsoft.KeyVault"]}],
            }],
            "trustedServices": {"custom": [{"name": "Backup",
                                            "addressPrefixes": ["20.1.0.0/16"]}]},
            "mode": "enforce",
        },
    }


cases = []  # (name, bytes, path, fragment)


def add(name, content, path, fragment=""):
    if isinstance(content, (dict, list)):
        content = json.dumps(content, indent=1)
    if isinstance(content, str):
        content = content.encode("utf-8")
    cases.append((name, content, path, fragment))


def get(doc, path):
    node = doc
    for key in path:
        node = node[key]
    return node


def put(path, value, doc=None):
    doc = doc or base()
    get(doc, path[:-1])[path[-1]] = value
    return doc


def dotted(path):
    out = ""
    for key in path:
        out += "[%d]" % key if isinstance(key, int) else ("." if out else "") + key
    return out


# ---- syntax errors: the message gives line and column (no path exists) ----
text = json.dumps(base(), indent=1)
for i, cut in enumerate(range(1, len(text) - 1, max(1, len(text) // 24))):
    add("syntax-truncated-at-%04d" % cut, text[:cut], "", "invalid JSON at line")
for name, bad in [
    ("trailing-comma", '{"networkAcls": {"defaultAction": "Deny",}}'),
    ("single-quotes", "{'networkAcls': {}}"),
    ("comment", '{"networkAcls": {} // no comments\n}'),
    ("block-comment", '{/* c */ "networkAcls": {}}'),
    ("nan", '{"vaultwall": {"limits": {"maxIpRules": NaN}}}'),
    ("infinity", '{"vaultwall": {"limits": {"maxIpRules": Infinity}}}'),
    ("unquoted-key", '{networkAcls: {}}'),
    ("missing-colon", '{"networkAcls" {}}'),
    ("missing-comma", '{"networkAcls": {"defaultAction": "Deny" "bypass": "None"}}'),
    ("extra-close", '{"networkAcls": {}}}'),
    ("two-documents", '{"networkAcls": {}} {"networkAcls": {}}'),
    ("unterminated-string", '{"networkAcls": {"defaultAction": "Deny}}'),
    ("bad-escape", '{"networkAcls": {"defaultAction": "De\\qny"}}'),
    ("control-char-in-string", '{"networkAcls": {"defaultAction": "De\tny"}}'),
    ("lone-surrogate-escape", '{"networkAcls": {"defaultAction": "\\ud800"}}'),
    ("hex-number", '{"vaultwall": {"limits": {"maxIpRules": 0x10}}}'),
    ("leading-zero-number", '{"vaultwall": {"limits": {"maxIpRules": 010}}}'),
    ("plus-number", '{"vaultwall": {"limits": {"maxIpRules": +1}}}'),
    ("true-capitalised", '{"networkAcls": {"virtualNetworkRules": [{"id": "x", "ignoreMissingVnetServiceEndpoint": True}]}}'),
    ("bare-word", 'networkAcls'),
    ("only-open-brace", '{'),
    ("only-close-brace", '}'),
]:
    add("syntax-" + name, bad, "", "invalid JSON")

# ---- empty and non-object documents ----
add("empty-file", b"", "", "invalid JSON")
add("only-whitespace", b" \n\t\r\n ", "", "invalid JSON")
add("only-bom", b"\xef\xbb\xbf", "", "invalid JSON")
add("nul-byte", b"\x00", "", "invalid JSON")
for name, doc in [("null", "null"), ("array", "[]"), ("number", "42"), ("string", '"x"'),
                  ("true", "true"), ("array-of-document", json.dumps([base()]))]:
    add("not-an-object-" + name, doc, "", "expected an object")

# ---- invalid UTF-8, inside strings and keys ----
for name, raw in [("ff", b"\xff"), ("overlong-slash", b"\xc0\xaf"), ("surrogate", b"\xed\xa0\x80"),
                  ("cut-2-byte", b"\xc3"), ("cut-3-byte", b"\xe2\x82"), ("continuation", b"\x80"),
                  ("above-u10ffff", b"\xf4\x90\x80\x80"), ("fe", b"\xfe")]:
    add("utf8-%s-in-value" % name, b'{"networkAcls": {"defaultAction": "Deny' + raw + b'"}}',
        "", "invalid JSON")
    add("utf8-%s-in-key" % name, b'{"networkAcls": {"default' + raw + b'Action": "Deny"}}',
        "", "invalid JSON")
    add("utf8-%s-in-ip-rule" % name,
        b'{"networkAcls": {"ipRules": [{"value": "203.0.113.0' + raw + b'/24"}]}}', "", "invalid JSON")

# ---- deep nesting (the parser refuses more than 64 levels, naming where) ----
for depth in (1000, 10000):
    add("deep-arrays-top-%d" % depth, "[" * depth + "]" * depth, "[0]", "nested deeper than")
    add("deep-arrays-in-ip-rules-%d" % depth,
        '{"networkAcls": {"ipRules": ' + "[" * depth + "]" * depth + "}}",
        "networkAcls.ipRules[0]", "nested deeper than")
    add("deep-objects-unknown-field-%d" % depth,
        '{"networkAcls": {"deep": ' + '{"a": ' * depth + "1" + "}" * depth + "}}",
        "networkAcls.deep", "nested deeper than")
    add("deep-unclosed-%d" % depth, "[" * depth, "[0]", "nested deeper than")

# ---- wrong types, at every field ----
FIELDS = [
    (["networkAcls"], {}),
    (["networkAcls", "defaultAction"], "Deny"),
    (["networkAcls", "bypass"], "None"),
    (["networkAcls", "ipRules"], []),
    (["networkAcls", "ipRules", 1], {}),
    (["networkAcls", "ipRules", 1, "value"], ""),
    (["networkAcls", "virtualNetworkRules"], []),
    (["networkAcls", "virtualNetworkRules", 0], {}),
    (["networkAcls", "virtualNetworkRules", 0, "id"], ""),
    (["networkAcls", "virtualNetworkRules", 0, "ignoreMissingVnetServiceEndpoint"], False),
    (["vaultwall"], {}),
    (["vaultwall", "profile"], ""),
    (["vaultwall", "mode"], ""),
    (["vaultwall", "dataPlane"], {}),
    (["vaultwall", "dataPlane", "ports"], []),
    (["vaultwall", "dataPlane", "ports", 0], ""),
    (["vaultwall", "dataPlane", "addresses"], []),
    (["vaultwall", "dataPlane", "addresses", 0], ""),
    (["vaultwall", "privateEndpoints"], []),
    (["vaultwall", "privateEndpoints", 0], ""),
    (["vaultwall", "virtualNetworks"], []),
    (["vaultwall", "virtualNetworks", 0], {}),
    (["vaultwall", "virtualNetworks", 0, "id"], ""),
    (["vaultwall", "virtualNetworks", 0, "segment"], {}),
    (["vaultwall", "virtualNetworks", 0, "segment", "interface"], ""),
    (["vaultwall", "virtualNetworks", 0, "segment", "vlan"], 1),
    (["vaultwall", "virtualNetworks", 0, "subnets"], []),
    (["vaultwall", "virtualNetworks", 0, "subnets", 0], {}),
    (["vaultwall", "virtualNetworks", 0, "subnets", 0, "name"], ""),
    (["vaultwall", "virtualNetworks", 0, "subnets", 0, "addressPrefix"], ""),
    (["vaultwall", "virtualNetworks", 0, "subnets", 0, "serviceEndpoints"], []),
    (["vaultwall", "virtualNetworks", 0, "subnets", 0, "serviceEndpoints", 0], ""),
    (["vaultwall", "trustedServices"], {}),
    (["vaultwall", "trustedServices", "custom"], []),
    (["vaultwall", "trustedServices", "custom", 0], {}),
    (["vaultwall", "trustedServices", "custom", 0, "name"], ""),
    (["vaultwall", "trustedServices", "custom", 0, "addressPrefixes"], []),
    (["vaultwall", "trustedServices", "custom", 0, "addressPrefixes", 0], ""),
]
# null is not here: Azure prints absent fields as null, so null means "absent".
WRONG = {"number": 7, "float": 1.5, "negative": -1, "string": "x", "array": [], "object": {},
         "bool": True}


def same_type(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return isinstance(a, int) == isinstance(b, int)
    return type(a) == type(b)


for path, example in FIELDS:
    for wname, wrong in WRONG.items():
        if same_type(example, wrong):
            continue
        # vlan: a float or negative number is a number, refused as a range or type
        add("type-%s-%s" % (dotted(path).replace(".", "-").replace("[", "-").replace("]", ""), wname),
            put(path, wrong), dotted(path))

# ---- IP rule values: bad syntax, out of range, /33, host bits, IPv6,
#      private and other non-public ranges, /31 as a range (akv-2018; /32 is the address under every profile) ----
IP_RULE = ["networkAcls", "ipRules", 1, "value"]
bad_values = {
    "three-octets": "203.0.113", "five-octets": "203.0.113.1.5", "octet-256": "256.1.2.3",
    "octet-999": "999.999.999.999", "empty-prefix": "203.0.113.0/", "prefix-33": "203.0.113.0/33",
    "prefix-64": "203.0.113.0/64", "prefix-negative": "203.0.113.0/-1", "prefix-only": "/24",
    "leading-zero-octet": "203.0.113.010", "leading-zero-prefix": "203.0.113.0/024",
    "hex-prefix": "203.0.113.0/0x18", "two-prefixes": "203.0.113.0/24/8", "letters": "a.b.c.d",
    "empty": "", "space-before": " 203.0.113.7", "space-after": "203.0.113.7 ",
    "double-dot": "203..113.7", "trailing-dot": "203.0.113.7.", "plus-sign": "+203.0.113.7",
    "arabic-digits": "\u0662\u0660\u0663.0.113.7", "fullwidth-digits": "\uff12\uff10\uff13.0.113.7",
    "range-dash": "203.0.113.1-203.0.113.9", "wildcard": "203.0.113.*", "netmask": "203.0.113.0/255.255.255.0",
    "huge-number": "4294967296", "integer-form": "3405803783", "nul-inside": "203.0.113.7\u0000",
    "host-bits-24": "203.0.113.5/24", "host-bits-8": "20.1.2.3/8", "host-bits-30": "198.51.100.9/30",
    "ipv6": "2001:db8::/32", "ipv6-loopback": "::1", "ipv6-mapped": "::ffff:203.0.113.7",
    "ipv6-bracketed": "[2001:db8::1]",
    "private-10": "10.0.0.0/8", "private-10-host": "10.1.2.3", "private-172": "172.16.0.0/12",
    "private-172-31": "172.31.255.255", "private-192-168": "192.168.1.0/24",
    "this-network": "0.0.0.0/8", "zero-address": "0.0.0.0", "everything": "0.0.0.0/0",
    "loopback": "127.0.0.1", "loopback-net": "127.0.0.0/8", "link-local": "169.254.169.254",
    "cgnat": "100.64.0.0/10", "cgnat-host": "100.127.255.254", "multicast": "224.0.0.1",
    "multicast-net": "224.0.0.0/4", "reserved": "240.0.0.0/4", "broadcast": "255.255.255.255",
    "contains-private": "8.0.0.0/5", "contains-everything-half": "128.0.0.0/1",
    "contains-loopback": "96.0.0.0/3", "slash-31-range": "203.0.113.4/31",
}
for name, value in bad_values.items():
    add("ip-rule-" + name, put(IP_RULE, value), dotted(IP_RULE))
# the same faults in the vault-resource form, where paths start with properties.
for name in ("prefix-33", "host-bits-24", "ipv6", "private-10", "loopback"):
    doc = base()
    resource = {"properties": {"networkAcls": doc["networkAcls"], "publicNetworkAccess": "Enabled"},
                "vaultwall": doc["vaultwall"]}
    resource["properties"]["networkAcls"]["ipRules"][2]["value"] = bad_values[name]
    add("resource-ip-rule-" + name, resource, "properties.networkAcls.ipRules[2].value")

# ---- addresses, endpoints, subnet and trusted prefixes ----
for name, value in [("cidr", "192.0.2.0/24"), ("ipv6-multicast", "ff02::1"), ("bad", "192.0.2.256"),
                    ("empty", ""), ("letters", "vault")]:
    add("address-" + name, put(["vaultwall", "dataPlane", "addresses", 0], value),
        "vaultwall.dataPlane.addresses[0]")
    add("private-endpoint-" + name, put(["vaultwall", "privateEndpoints", 0], value),
        "vaultwall.privateEndpoints[0]")
SUBNET = ["vaultwall", "virtualNetworks", 0, "subnets", 0, "addressPrefix"]
CUSTOM = ["vaultwall", "trustedServices", "custom", 0, "addressPrefixes", 0]
for name, value in [("prefix-33", "10.1.0.0/33"), ("host-bits", "10.1.0.1/24"), ("octet-300", "10.300.0.0/16"),
                    ("no-prefix-garbage", "10.1.0.0/x"), ("empty", "")]:
    add("subnet-" + name, put(SUBNET, value), dotted(SUBNET))
    add("trusted-" + name, put(CUSTOM, value), dotted(CUSTOM))
add("trusted-ipv6-ula", put(CUSTOM, "fd00:1::/32"), dotted(CUSTOM), "belongs to unique local (fc00::/7)")

# ---- enum values and ranges ----
for path, value in [(["networkAcls", "defaultAction"], "Block"), (["networkAcls", "defaultAction"], ""),
                    (["networkAcls", "bypass"], "Azure Services"), (["networkAcls", "bypass"], "Logging"),
                    (["vaultwall", "profile"], "akv-2019"), (["vaultwall", "mode"], "monitor"),
                    (["vaultwall", "dataPlane", "ports", 0], "tcp/0"),
                    (["vaultwall", "dataPlane", "ports", 0], "tcp/65536"),
                    (["vaultwall", "dataPlane", "ports", 0], "sctp/443"),
                    (["vaultwall", "dataPlane", "ports", 0], "tcp/0443"),
                    (["vaultwall", "dataPlane", "ports", 0], "443"),
                    (["vaultwall", "dataPlane", "ports", 0], "tcp/443/x"),
                    (["vaultwall", "virtualNetworks", 0, "segment", "vlan"], 0),
                    (["vaultwall", "virtualNetworks", 0, "segment", "vlan"], 4095),
                    (["vaultwall", "virtualNetworks", 0, "segment", "vlan"], -1),
                    (["vaultwall", "virtualNetworks", 0, "segment", "vlan"], 2 ** 40),
                    (["vaultwall", "virtualNetworks", 0, "segment", "interface"], ""),
                    (["vaultwall", "virtualNetworks", 0, "segment", "interface"], "eth0/1"),
                    (["vaultwall", "virtualNetworks", 0, "segment", "interface"], "a" * 16),
                    (["vaultwall", "virtualNetworks", 0, "segment", "interface"], "eth 0"),
                    (["vaultwall", "virtualNetworks", 0, "id"], "/subscriptions/0000/not-a-vnet"),
                    (["vaultwall", "trustedServices", "custom", 0, "name"], "N" * 64)]:
    tag = str(value).replace("/", "_").replace(" ", "_")[:20] or "empty"
    add("value-%s-%s" % (dotted(path).replace(".", "-").replace("[", "-").replace("]", ""), tag),
        put(path, value), dotted(path))
doc = base()
doc["networkAcls"]["publicNetworkAccess"] = "Off"  # not a networkAcls field: unknown
add("public-access-inside-acls", doc, "networkAcls.publicNetworkAccess", "unknown field")
resource = {"properties": {"networkAcls": base()["networkAcls"], "publicNetworkAccess": "Off"}}
add("public-access-invalid", resource, "properties.publicNetworkAccess")

# ---- limits + 1 ----
def ip_rules(n):
    return [{"value": "%d.%d.%d.0/24" % (20 + i // 65536, (i // 256) % 256, i % 256)} for i in range(n)]


doc = base(); doc["networkAcls"]["ipRules"] = ip_rules(128)
add("limit-ip-rules-akv-2018-128", doc, "networkAcls.ipRules", "exceed the limit of 127")
doc = base(); doc["networkAcls"]["ipRules"] = ip_rules(1001); doc["vaultwall"]["profile"] = "akv-current"
add("limit-ip-rules-akv-current-1001", doc, "networkAcls.ipRules", "exceed the limit of 1000")
doc = base(); doc["networkAcls"]["ipRules"] = ip_rules(11); doc["vaultwall"]["limits"] = {"maxIpRules": 10}
add("limit-ip-rules-override-11", doc, "networkAcls.ipRules", "exceed the limit of 10")
for value in (0, -5, 16384, 2 ** 53):
    doc = put(["vaultwall", "limits"], {"maxIpRules": value})
    add("limit-override-out-of-range-%d" % value, doc, "vaultwall.limits.maxIpRules", "out of range")


def vnet_with_subnets(n, endpoint=True):
    subnets = [{"name": "s%d" % i, "addressPrefix": "10.%d.%d.0/24" % (i // 256, i % 256),
                "serviceEndpoints": ["Microsoft.KeyVault"] if endpoint else []} for i in range(n)]
    rules = [{"id": VNET + "/subnets/s%d" % i} for i in range(n)]
    return subnets, rules


doc = base(); subnets, rules = vnet_with_subnets(128)
doc["vaultwall"]["virtualNetworks"][0]["subnets"] = subnets; doc["networkAcls"]["virtualNetworkRules"] = rules
add("limit-vnet-rules-akv-2018-128", doc, "networkAcls.virtualNetworkRules", "exceed the limit of 127")
doc = base(); subnets, rules = vnet_with_subnets(201)
doc["vaultwall"]["virtualNetworks"][0]["subnets"] = subnets; doc["networkAcls"]["virtualNetworkRules"] = rules
doc["vaultwall"]["profile"] = "akv-current"
add("limit-vnet-rules-akv-current-201", doc, "networkAcls.virtualNetworkRules", "exceed the limit of 200")
doc = put(["vaultwall", "dataPlane", "ports"], ["tcp/%d" % p for p in range(1, 18)])
add("limit-ports-17", doc, "vaultwall.dataPlane.ports", "exceed the datapath's limit of 16")
doc = put(["vaultwall", "trustedServices", "custom"],
          [{"name": "S%d" % i, "addressPrefixes": ["20.%d.%d.0/24" % (i // 256, i % 256)]} for i in range(256)])
add("limit-trusted-services-256", doc, "vaultwall.trustedServices", "exceed the datapath's limit of 255")
doc = put(["vaultwall", "privateEndpoints"], ["10.%d.%d.%d" % (50, i // 256, i % 256) for i in range(4096)])
add("limit-endpoints-4097", doc, "vaultwall.dataPlane.addresses", "exceed the datapath's limit of 4096")

# ---- unknown fields at every level, and typos ----
for path in [[], ["networkAcls"], ["networkAcls", "ipRules", 0], ["networkAcls", "virtualNetworkRules", 0],
             ["vaultwall"], ["vaultwall", "dataPlane"], ["vaultwall", "virtualNetworks", 0],
             ["vaultwall", "virtualNetworks", 0, "segment"], ["vaultwall", "virtualNetworks", 0, "subnets", 0],
             ["vaultwall", "trustedServices"], ["vaultwall", "trustedServices", "custom", 0]]:
    for key in ("extra", "Value", "__proto__", "", "a" * 300, "ünïcödé"):
        if not path and key in ("Value",):
            continue
        doc = base()
        # Field names are case-insensitive (as Azure's): "Value" beside
        # "value" names the same field twice.
        clash = any(k.lower() == key.lower() for k in get(doc, path))
        get(doc, path)[key] = 1
        name = "unknown-%s-%s" % (dotted(path).replace(".", "-").replace("[", "-").replace("]", "") or "top",
                                  key[:10].encode("ascii", "replace").decode().replace("?", "u") or "emptykey")
        add(name, doc, dotted(path + [key]) if path else key, "duplicate key" if clash else "unknown field")
doc = base(); doc["vaultwall"]["limits"] = {"maxIpRule": 5}
add("unknown-limits-typo", doc, "vaultwall.limits.maxIpRule", "unknown field")

# ---- duplicate keys at every level ----
def with_duplicate(path, key):
    """The base document's text with `key` written twice in the object at path."""
    doc = base()
    marker = "__DUPLICATE_MARKER__"
    obj = get(doc, path) if path else doc
    value = obj[key]
    obj[marker] = value
    text = json.dumps(doc, indent=1)
    return text.replace('"%s"' % marker, '"%s"' % key)


for path, key in [([], "networkAcls"), ([], "vaultwall"), (["networkAcls"], "defaultAction"),
                  (["networkAcls"], "bypass"), (["networkAcls"], "ipRules"), (["networkAcls", "ipRules", 0], "value"),
                  (["networkAcls", "virtualNetworkRules", 0], "id"), (["vaultwall"], "mode"), (["vaultwall"], "profile"),
                  (["vaultwall"], "dataPlane"), (["vaultwall", "dataPlane"], "ports"),
                  (["vaultwall", "virtualNetworks", 0], "segment"), (["vaultwall", "virtualNetworks", 0, "segment"], "vlan"),
                  (["vaultwall", "virtualNetworks", 0, "subnets", 0], "addressPrefix"),
                  (["vaultwall", "trustedServices", "custom", 0], "name")]:
    add("duplicate-%s-%s" % (dotted(path).replace(".", "-").replace("[", "-").replace("]", "") or "top", key),
        with_duplicate(path, key), dotted(path + [key]) if path else key, "duplicate key")

# ---- meaning: references and consistency ----
doc = base(); doc["vaultwall"]["virtualNetworks"][0]["subnets"][0]["serviceEndpoints"] = ["Microsoft.Storage"]
add("vnet-rule-no-service-endpoint", doc, "networkAcls.virtualNetworkRules[0].id", "SubnetsHaveNoServiceEndpointsConfigured")
doc = base(); doc["vaultwall"]["virtualNetworks"][0]["subnets"].append(
    {"name": "db", "addressPrefix": "10.1.0.128/25", "serviceEndpoints": ["Microsoft.KeyVault"]})
add("subnets-overlap", doc, "vaultwall.virtualNetworks[0].subnets[1].addressPrefix", "overlaps")
doc = base(); doc["vaultwall"]["virtualNetworks"].append(dict(doc["vaultwall"]["virtualNetworks"][0], id=VNET + "2"))
add("segment-used-twice", doc, "vaultwall.virtualNetworks[1].segment", "already used")
doc = base(); doc["vaultwall"]["virtualNetworks"].append(doc["vaultwall"]["virtualNetworks"][0])
add("vnet-described-twice", doc, "vaultwall.virtualNetworks[1].id", "already described")
doc = base(); doc["vaultwall"]["privateEndpoints"] = ["192.0.2.10"]
add("address-also-endpoint", doc, "vaultwall.privateEndpoints[0]", "either a data-plane address or a private endpoint")
doc = base(); doc["vaultwall"]["trustedServices"] = {"services": ["Storage"]}
add("services-without-tags-file", doc, "vaultwall.trustedServices.services", "need a Service Tags file")
doc = base(); doc["vaultwall"]["trustedServices"]["custom"].append({"name": "backup", "addressPrefixes": ["20.2.0.0/16"]})
add("custom-service-name-twice", doc, "vaultwall.trustedServices.custom[1].name", "already used")
doc = base(); doc["vaultwall"]["virtualNetworks"][0]["subnets"][0].pop("addressPrefix")
add("subnet-without-prefix", doc, "vaultwall.virtualNetworks[0].subnets[0].addressPrefix", "missing")

os.makedirs(OUT, exist_ok=True)
for old in os.listdir(OUT):
    if old.endswith(".json") or old == "expected.tsv":
        os.remove(os.path.join(OUT, old))
names = set()
with open(os.path.join(OUT, "expected.tsv"), "w") as table:
    table.write("# file\tJSON path the error must name (empty: syntax, with line and column)\t"
                "text the message must contain\n")
    for index, (name, content, path, fragment) in enumerate(cases):
        file = "%03d-%s.json" % (index, name)
        assert file not in names, file
        names.add(file)
        with open(os.path.join(OUT, file), "wb") as f:
            f.write(content)
        table.write("%s\t%s\t%s\n" % (file, path, fragment))
print("wrote %d hostile documents to %s" % (len(cases), OUT))
