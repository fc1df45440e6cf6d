"""Podium as an LTI 1.3 tool (pylti1p3 does the protocol; these modules keep Podium's side).

models: platforms, deployments, contexts (LMS course -> Podium course), resource links, accounts
keyed by (issuer, sub), the tool's keys, used nonces, grade posts. toolconf: pylti1p3's view of
them. http: the one bounded requests session every call to a platform goes through. launch,
deeplink, roster (NRPS), grades (AGS): services. views/urls: the /lti/ endpoints. docs/LTI.md
says how an LMS registers the tool.
"""
