"""The platform from a Python program, through the component provider plugin.

Once: `pulumi package add <path to packages/pulumi>` (needs the Pulumi CLI), which generates the
`pulumi_octw` SDK from the plugin's schema; then `pulumi up`. Images must be pinned
(repo@sha256:... or sha256:...).
"""
import pulumi
import pulumi_octw as octw

config = pulumi.Config()

platform = octw.OpenClawPlatform(
    "prod",
    prefix="py",
    images={
        "openclaw": config.require("openclawImage"),
        "egress_proxy": config.require("egressProxyImage"),
        "postgres": config.require("postgresImage"),
    },
    tenants=[
        {"id": "acme", "slot": 1, "presets": ["restricted", "github"]},
        {
            "id": "globex",
            "slot": 2,
            "policy": "version: 1\nnetwork_policies:\n  crm:\n    endpoints:\n      - host: api.crm.example.com\n        port: 443\n",
        },
    ],
    audit={"mode": "embedded"},
)

pulumi.export("tenants", platform.tenant_summary)
