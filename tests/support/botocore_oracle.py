#!/usr/bin/env python3
"""What the real botocore resolves for AWS config files: the oracle of tests/botocore_diff.rs.

Run it with the python that has botocore (the test venv: /opt/ssso-test/venv/bin/python3,
where awscli v1 vendors botocore as awscli.botocore and aliases it to `botocore`). It reads
JSON lines on stdin and answers one JSON line on stdout for each, in order:

  in:  {"path": "/tmp/x/case.ini", "probes": ["dev", "default", ...]}
  out: {"parse_error": "ConfigParseError: ..."}                      when botocore refuses the file
       {"profiles": [...], "sso_sessions": [...], "defaults": [...], "answers": {NAME: ANSWER}}

`profiles` and `sso_sessions` are the names in botocore's order (`Session.full_config`),
`defaults` the keys of configparser's [DEFAULT] section, and each probed name and each of
botocore's own profile names gets an answer (except the empty name, which botocore's providers
cannot select: they fall back to `default` for it):

  ANSWER = {"exists": bool,             name is in full_config["profiles"]
            "props": {...},             that profile's dict, as botocore holds it
            "own": [...],               keys of the section that won (without [DEFAULT]'s)
            "session_own": [...]|null,  same for the sso-session it names, if any
            "token": RESULT,            SSOTokenProvider._load_sso_config()
            "creds": RESULT,            SSOProvider._load_sso_config() (ProfileProviderBuilder)
            "legacy_cache_file": ...}   the cache file for the profile's own sso_start_url
  RESULT = {"none": true} | {"error": "Type: message"} | {"ok": {...}, "cache_file": "<sha1>.json"}

Every decision is botocore's own code: Session.full_config (configloader.load_config:
raw_config_parse + build_profile_map), SSOTokenProvider and SSOProvider's _load_sso_config,
and SSOTokenLoader._generate_cache_key with JSONFileCache's file naming. The only extra look is
configparser's own view of which keys a section set itself (for the [DEFAULT] rule ssso adds).

The file is read with the locale's encoding, as botocore does: run this under a UTF-8 locale
(the test sets LC_ALL=C.UTF-8 and PYTHONUTF8=1).
"""

import configparser
import json
import os
import sys
import tempfile


def import_botocore():
    try:
        import awscli  # noqa: F401  awscli >= 1.44 vendors botocore and aliases the name
    except ImportError:
        pass
    import botocore
    import botocore.configloader
    import botocore.credentials
    import botocore.exceptions
    import botocore.session
    import botocore.tokens
    import botocore.utils

    return botocore


def result(botocore, cache_dir, call):
    try:
        got = call()
    except Exception as e:  # botocore refusing: InvalidConfigError, TypeError on a dict...
        return {"error": "%s: %s" % (type(e).__name__, e)}
    if got is None:
        return {"none": True}
    out = {"ok": got}
    if "session_name" in got:
        start_url, session_name = got["sso_start_url"], got["session_name"]
    else:
        start_url, session_name = got.get("sso_start_url"), got.get("sso_session")
    try:
        key = botocore.utils.SSOTokenLoader(cache={})._generate_cache_key(start_url, session_name)
        path = botocore.utils.JSONFileCache(cache_dir)._convert_cache_key(key)
        out["cache_file"] = os.path.basename(path)
    except Exception as e:
        out["cache_error"] = "%s: %s" % (type(e).__name__, e)
    return out


def own_keys(path):
    """Per section name, the keys that section sets itself (configparser's view)."""
    cp = configparser.RawConfigParser()
    cp.read([path])
    return cp, {name: list(cp._sections[name].keys()) for name in cp.sections()}


def judge(botocore, session, cache_dir, req):
    path = req["path"]
    session.set_config_variable("config_file", path)
    session._config = None  # full_config caches the parsed file; one Session serves every case
    try:
        full = session.full_config
    except botocore.exceptions.ConfigParseError as e:
        cause = getattr(e, "kwargs", {}).get("error")
        return {"parse_error": "%s: %s (%r)" % (type(e).__name__, e, cause)}
    cp, own = own_keys(path)
    # Which section won each name: build_profile_map itself, fed one marker per section.
    marked = botocore.configloader.build_profile_map({s: {"\0section": s} for s in cp.sections()})
    profiles = full.get("profiles", {})
    sessions = full.get("sso_sessions", {})
    answers = {}
    for name in list(req["probes"]) + list(profiles):
        if name == "" or name in answers:
            continue
        props = profiles.get(name)
        sec = marked["profiles"].get(name, {}).get("\0section")
        sso_session = props.get("sso_session") if isinstance(props, dict) else None
        ssec = None
        if isinstance(sso_session, str):
            ssec = marked["sso_sessions"].get(sso_session, {}).get("\0section")
        token = botocore.tokens.SSOTokenProvider(session, cache={}, profile_name=name)
        builder = botocore.credentials.ProfileProviderBuilder(session, sso_token_cache={})
        creds = builder._create_sso_provider(name)
        answers[name] = {
            "exists": name in profiles,
            "props": props,
            "own": own.get(sec),
            "session_own": own.get(ssec),
            "token": result(botocore, cache_dir, token._load_sso_config),
            "creds": result(botocore, cache_dir, creds._load_sso_config),
            "legacy_cache_file": None,
        }
        start_url = props.get("sso_start_url") if isinstance(props, dict) else None
        if isinstance(start_url, str):
            key = botocore.utils.SSOTokenLoader(cache={})._generate_cache_key(start_url, None)
            path = botocore.utils.JSONFileCache(cache_dir)._convert_cache_key(key)
            answers[name]["legacy_cache_file"] = os.path.basename(path)
    return {
        "profiles": list(profiles),
        "sso_sessions": list(sessions),
        "defaults": list(cp.defaults().keys()),
        "answers": answers,
    }


def main():
    botocore = import_botocore()
    session = botocore.session.Session()
    # ssso never reads ~/.aws/credentials; neither may the oracle.
    session.set_config_variable("credentials_file", os.path.join(os.sep, "nonexistent", "credentials"))
    session.set_config_variable("profile", None)
    cache_dir = tempfile.gettempdir()
    hello = {
        "botocore": botocore.__version__,
        "file": botocore.__file__,
        "python": sys.version.split()[0],
        "encoding": __import__("locale").getpreferredencoding(False),
    }
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            out = judge(botocore, session, cache_dir, req)
        except Exception as e:  # a crash of the oracle itself, never of botocore's judgement
            out = {"oracle_error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
