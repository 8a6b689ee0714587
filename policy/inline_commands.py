"""What inline customizer commands do with code they fetch (the reading behind `aib-pinned-downloads`), with keys and
secrets (`key_material`, `key_downloads`: `aib-no-key-material`) and with data they send out of the build VM
(`uploads`: `aib-no-uploads`). tests/unit/test_workflows.py reads the CI workflows' shell with the same functions.

A build step that downloads code and runs it without checking it first puts whatever the server returns that day
into the golden image. The obvious form is `curl URL | sh`; the same thing hides in many others, each recognised here:
a pipeline with stages in between (`| tee f | sh`), other interpreters (`| python3`, `| perl`), command and process
substitution (`python3 -c "$(curl ...)"`, `eval "$(curl ...)"`, `bash <(curl ...)`), a variable
(`s=$(curl ...); eval "$s"`, `$s = iwr URL; iex $s`), PowerShell's `iex (iwr ...)`, `irm URL | iex` and
`[scriptblock]::Create(...)`, content hidden from review (`base64 -d | sh`, `pwsh -EncodedCommand ...`), and a
download to a file that a later command runs (`curl -o x.sh URL` then `bash x.sh`, `./x.sh`, `& .\\x.ps1`,
`Start-Process x.exe`), in the same step or a later one, also after `cp`/`mv`. The download-then-run form is fine when a
checksum check (`sha256sum -c`, `shasum -c`, `Get-FileHash` with a comparison that throws) comes between the download
and the run: the accepted pinned form.

The policy pack runs in its own environment (policy/venv), without the project's packages, so this module depends on
the standard library only. Known limits: commands are read as text, not parsed as a shell would; a name built at run
time (`f=x; bash "$f.sh"`), a download by a tool not named here, or code that a pinned script fetches itself are not
seen.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional, Sequence

FETCH = (r"(?:\bcurl\b|\bwget\b|\baria2c\b|\biwr\b|\birm\b|Invoke-WebRequest|Invoke-RestMethod|Start-BitsTransfer"
         r"|\bbitsadmin\b[^\n;]*/transfer|\bcertutil\b[^\n;]*-urlcache"
         r"|\(?\s*New-Object\s+(?:System\.)?Net\.WebClient\s*\)?\s*\.\s*Download(?:String|Data|File))")
#: Turns text in the step into code: hidden from the reviewer, as unchecked as a download.
DECODE = (r"(?:\bbase64\s+(?:-\S+\s+)*(?:-d|-D|--decode)\b|\bopenssl\s+(?:base64|enc)\b[^\n;|]*\s-d\b"
          r"|\bxxd\s+(?:-\S+\s+)*-r|\b(?:gunzip|zcat)\b|\[(?:System\.)?Convert\]::FromBase64String)")
# What may stand before a command word: sudo and its options, env and assignments, exec/nohup/time.
_PREFIX = (r"(?:(?:sudo|doas)\s+(?:-[ugCDhpRrTt]\s+\S+\s+|-\S+\s+)*|(?:/\S*/)?env\s+(?:-\S+\s+|\w+=\S*\s+)*"
           r"|(?:exec|nohup|command|time)\s+|\w+=\S*\s+)*")
_SHELL = r"(?:/\S*/)?(?:(?:ba|z|da|k|c|tc|fi|a)?sh|pwsh|powershell(?:\.exe)?)(?![\w.-])"
_INTERPRETER = r"(?:/\S*/)?(?:python[\d.]*|perl|ruby|node|php)(?![\w.-])"
_STAGE = r"(?:[^\n;&|]|[<>]&|&[>\d])*"  # one pipeline stage: no `;`, `&&`, `||` or line end
# Runs its standard input: a shell, an interpreter not given code of its own (`python3 -m json.tool`, `jq`-like uses
# read data), PowerShell's iex.
_RUNS_STDIN = (rf"{_PREFIX}(?:{_SHELL}|{_INTERPRETER}(?!{_STAGE}\s-[a-zA-Z]*[cmeE]\b)"
               r"|\biex(?![\w.-])|Invoke-Expression)")
# Runs the string that follows it: `bash -c`, `python3 -c`, `perl -e`, `eval`, a here-string.
_RUNS_STRING = (rf"(?:{_PREFIX}(?:{_SHELL}|{_INTERPRETER})\s+(?:-\S+\s+)*-[a-zA-Z]*[ceE]\s+|{_PREFIX}\beval\s+"
                rf"|{_PREFIX}(?:{_SHELL}|{_INTERPRETER})\s+(?:-\S+\s+)*<<<\s*)")
# Installs a package file, running its scripts: `dpkg -i x.deb`, `apt-get install ./x.deb`, `rpm -i x.rpm`.
_INSTALLS = (r"dpkg\s+(?:-\S+\s+)*-[a-zA-Z]*i|(?:apt|apt-get|yum|dnf|zypper)\s+(?:-\S+\s+)*(?:install|localinstall)"
             r"|rpm\s+(?:-\S+\s+)*-[a-zA-Z]*[iU]")
_SUBSTITUTION = r"[\"']?(?:\$\(|`)[^\n)`]*?"
_HIDDEN = rf"(?:{FETCH}|{DECODE})"


def _one_liners(source: str) -> str:
    return (rf"{source}{_STAGE}(?:\|(?!\|){_STAGE})*\|\s*{_RUNS_STDIN}"                  # curl URL | tee f | sh
            rf"|{_RUNS_STRING}{_SUBSTITUTION}{source}"                                   # eval "$(curl URL)"
            rf"|{_PREFIX}(?:{_SHELL}|{_INTERPRETER}|\bsource|(?<![\w.])\.)\s+(?:-\S+\s+)*<\s*<?\(\s*{source}"
            rf"|(?:\biex|Invoke-Expression)\b[^\n;|]*?{source}"                          # iex (iwr URL).Content
            rf"|\[scriptblock\]::Create\([^\n;]*?{source}")


_FETCH_AND_RUN = re.compile(_one_liners(FETCH), re.IGNORECASE)
_DECODE_AND_RUN = re.compile(_one_liners(DECODE) + r"|\b(?:pwsh|powershell)(?:\.exe)?\b[^\n;|]*\s-e(?:nc\w*|c)?\s+"
                             r"[\"']?[A-Za-z0-9+/]{20,}", re.IGNORECASE)
# A variable that holds fetched or decoded text: `s=$(curl ...)`, `$s = iwr ...`.
_ASSIGNED = re.compile(rf"(?:^|[\s;&|(])(?:export\s+|local\s+|readonly\s+)?\$?([A-Za-z_]\w*)\s*=\s*"
                       rf"(?:[\"']?(?:\$\(|`)|[^\n;=]*?){_HIDDEN}", re.IGNORECASE)
CHECKSUM_CHECK = re.compile(r"\b(?:sha(?:1|224|256|384|512)sum|shasum|b2sum|md5sum)\b[^\n;|&]*\s(?:-c\b|--check\b)"
                            r"|Get-FileHash\b[^\n]*?(?:-c?ne|-c?eq|-notmatch|-match|-notlike|-like)\b[^\n]*?\b(?:throw|exit)\b"
                            r"|Get-FileHash\b[^\n]*\n[^\n]*?(?:-c?ne|-c?eq)\b[^\n]*?\b(?:throw|exit)\b",
                            re.IGNORECASE)

_SEGMENT = re.compile(r"[^\n;&|]+(?:\|(?!\|)[^\n;&|]*)*")  # a command with its pipeline
_URL = re.compile(r"https?://[^\s\"'`)]+", re.IGNORECASE)


def _basename(token: str) -> str:
    token = token.strip("\"'`(),")
    return re.split(r"[\\/]", token.split("?", 1)[0])[-1].lower()


def download_targets(segment: str) -> set[str]:
    """Base names of the files a fetching (or decoding) command writes."""
    names = {_basename(t) for t in _download_paths(segment)}
    return {n for n in names if n and n not in ("-", "null", "/dev/null", "$null", "nul")}


def _download_paths(segment: str) -> set[str]:
    """The paths (as written) of the files a fetching (or decoding) command writes."""
    found: set[str] = set()
    url = _URL.search(segment)
    url_name = _basename(url.group(0)) if url else ""
    first = segment.lstrip().split(None, 1)[0].lower() if segment.strip() else ""
    words = segment.split()
    if re.search(r"\bcurl\b", segment, re.IGNORECASE):
        found.update(m.group(1) for m in re.finditer(r"(?:^|\s)(?:-[a-zA-Z]*o\s*|--output[=\s]+)(\S+)", segment))
        if re.search(r"(?:^|\s)(?:-[a-zA-Z]*O\b|--remote-name\b)", segment) and url_name:
            found.add(url_name)
    if re.search(r"\bwget\b", segment, re.IGNORECASE):
        named = [m.group(1) for m in re.finditer(r"(?:^|\s)(?:-[a-zA-Z]*O\s*|--output-document[=\s]+)(\S+)", segment)]
        found.update(n for n in named if n != "-")
        if not named and url_name:
            found.add(url_name)
    if re.search(r"\baria2c\b", segment, re.IGNORECASE):
        found.update(m.group(1) for m in re.finditer(r"(?:^|\s)(?:-o\s*|--out[=\s]+)(\S+)", segment))
        if url_name:
            found.add(url_name)
    found.update(m.group(1) for m in re.finditer(r"-(?:OutF\w*|Out|Destination)\s+(\S+)", segment, re.IGNORECASE))
    found.update(m.group(1) for m in re.finditer(r"DownloadFile\(\s*[^,]+,\s*([^)]+)\)", segment, re.IGNORECASE))
    if first in ("bitsadmin", "certutil", "bitsadmin.exe", "certutil.exe") and words:
        found.add(words[-1])
    # Redirections and tee: what the pipeline writes.
    found.update(m.group(1) for m in re.finditer(r"(?<![0-9&<>])>{1,2}\s*([^\s&>|]+)", segment))
    found.update(m.group(1) for m in re.finditer(r"\btee\s+(?:-\S+\s+)*(\S+)", segment, re.IGNORECASE))
    found.update(m.group(1) for m in re.finditer(r"\b(?:Out-File|Set-Content|Add-Content)\s+(?:-\S*Path\s+)?(\S+)",
                                                 segment, re.IGNORECASE))
    return {t.strip("\"'`(),") for t in found}


def _path(name: str) -> str:
    return rf"[\"']?(?:[^\s\"';|&<>]*[/\\])?{re.escape(name)}[\"']?(?=$|[\s;|&)])"


def _runs_file(name: str) -> re.Pattern[str]:
    path = _path(name)
    start = r"(?:^|[;&|(`{=]|\b(?:if|then|do|else|elif|while|until)\b|!)\s*"  # where a command begins
    return re.compile(
        rf"{start}{_PREFIX}(?:{_SHELL}|{_INTERPRETER}|source|\.|&|Start-Process(?:\s+-FilePath)?|Invoke-Item|{_INSTALLS}"
        rf"|msiexec(?:\.exe)?(?:\s+/\S+)*|(?:pwsh|powershell)(?:\.exe)?(?:\s+-\S+)*?\s+-File)\s+(?:-\S+\s+)*{path}"
        rf"|{start}{_PREFIX}(?=[\"']?(?:\.|/|[a-z]:|~|\$))[\"']?[^\s\"';|&<>]*[/\\]"
        rf"{re.escape(name)}[\"']?(?=$|[\s;|&)])"                                    # ./x.sh, /tmp/x.sh, C:\x.exe
        rf"|{start}{_PREFIX}(?:{_SHELL}|{_INTERPRETER})\s+(?:-\S+\s+)*<\s*{path}"      # sh < x.sh
        rf"|{start}(?:cat|type|Get-Content|gc)\s+(?:-\S+\s+)*{path}{_STAGE}(?:\|(?!\|){_STAGE})*\|\s*{_RUNS_STDIN}"
        rf"|(?:\biex|Invoke-Expression|\[scriptblock\]::Create\()[^\n;|]*?(?:Get-Content|gc|cat|type)\s+{path}",
        re.IGNORECASE | re.MULTILINE)


def _copies(name: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:cp|mv|install|Copy-Item|Move-Item|copy|move)\b[^\n;|&]*?{_path(name)}\s+(?:-\S+\s+)*(\S+)",
                      re.IGNORECASE)


def _joined(lines: Iterable[object]) -> str:
    return re.sub(r"\\\n\s*", " ", "\n".join(str(line) for line in lines))  # backslash line continuations


def hidden_code_run(lines: Iterable[object]) -> Optional[str]:
    """What one step's inline commands do that runs code no reviewer or checksum saw, or None."""
    text = _joined(lines)
    if _FETCH_AND_RUN.search(text):
        return "inline commands download code and run it unchecked"
    if _DECODE_AND_RUN.search(text):
        return "inline commands decode hidden code and run it unchecked"
    for variable in {m.group(1) for m in _ASSIGNED.finditer(text)}:
        var = rf"\$\{{?{re.escape(variable)}\b"
        if re.search(rf"{_RUNS_STRING}[\"']?{var}|(?:\biex|Invoke-Expression)\b[^\n;|]*?{var}"
                     rf"|\[scriptblock\]::Create\([^\n;]*?{var}|{var}{_STAGE}(?:\|(?!\|){_STAGE})*\|\s*{_RUNS_STDIN}",
                     text, re.IGNORECASE):
            return "inline commands download code into a variable and run it unchecked"
    return None


def downloaded_files_run(steps: Sequence[tuple[str, Sequence[object]]]) -> dict[str, str]:
    """Step path -> the path of the step that downloaded it, for each step that runs a file an inline command
    downloaded (in that step or an earlier one) with no checksum check between the download and the run."""
    texts = [(path, _joined(lines)) for path, lines in steps]
    found: dict[str, str] = {}
    downloads: list[tuple[int, int, str]] = []  # (step index, offset after the download, base name)
    for index, (_, text) in enumerate(texts):
        for segment in _SEGMENT.finditer(text):
            if re.search(_HIDDEN, segment.group(0), re.IGNORECASE):
                downloads.extend((index, segment.end(), name) for name in download_targets(segment.group(0)))
    queue = list(downloads)
    seen = {(i, name) for i, _, name in downloads}
    while queue:
        index, offset, name = queue.pop()
        for later in range(index, len(texts)):
            path, text = texts[later]
            start = offset if later == index else 0
            body = text[start:]
            for copy in _copies(name).finditer(body):  # cp x.sh /usr/local/bin/y: y is the same code
                alias = _basename(copy.group(1))
                if alias and (later, alias) not in seen:
                    seen.add((later, alias))
                    queue.append((later, start + copy.end(), alias))
            run = _runs_file(name).search(body)
            if run is None:
                continue
            checked_before = "\n".join([texts[index][1][offset:]] + [t for _, t in texts[index + 1:later]]
                                       + ([body[:run.start()]] if later != index else []))
            if later == index:
                checked_before = body[:run.start()]
            if not CHECKSUM_CHECK.search(checked_before):
                found.setdefault(path, texts[index][0])
            break
    return found


# --- key material: what a golden image must never carry ---------------------------------------------------------------
# Every VM made from the image gets a copy of each file in it, and anyone who can read an image version (a shared
# gallery, an exported VHD) can read them all: a private key or a secret fetched during the build is a secret given to
# all of them. Public halves are fine and common (`packages.microsoft.com/keys/microsoft.asc`, `id_rsa.pub`).

_PUBLIC_NAME = re.compile(r"(?:\.(?:pub|asc|gpg|crt|cer|sig|sha\d*|md5|txt\.sig)|^known_hosts|^authorized_keys2?"
                          r"|^ssh_config|^config)$", re.IGNORECASE)
_PRIVATE_KEY_NAME = re.compile(r"^(?:id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?|ssh_host_\w+_key|identity)$"
                               r"|\.(?:key|pfx|p12|jks|jceks|keystore|bcfks|ppk|pvk|kdbx|p8|pk8)$"
                               r"|^(?:[\w.-]*[._-])?(?:priv(?:ate)?|key)[\w.-]*\.pem$|^privkey", re.IGNORECASE)
_SECRET_NAME = re.compile(r"^(?:credentials|\.?netrc|_netrc|\.pgpass|\.git-credentials|\.?kubeconfig|\.env"
                          r"|\.htpasswd|\.npmrc|\.pypirc|\.dockercfg|shadow|gshadow)$"
                          r"|(?:^|[._-])(?:client[._-]?)?secrets?(?:[._-]|$)|passw(?:or)?d(?!$)|(?:^|[._-])credentials?"
                          r"(?:[._-]|$)|api[_-]?key|(?:^|[._-])tokens?(?:[._-]|$)", re.IGNORECASE)
# Installers and archives are named after their product (git-credential-manager-2.4.1.deb, SecretStorage wheels):
# their name says nothing about a secret inside.
_PACKAGE = re.compile(r"\.(?:deb|rpm|msi|msix|appx|exe|zip|tgz|tar|gz|xz|bz2|zst|7z|whl|nupkg|jar|apk|dmg|pkg|iso)$",
                      re.IGNORECASE)
_SECRET_FOLDER = {"keys", "secrets", "private", "credentials", ".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker"}


def key_material(path: object) -> Optional[str]:
    """What a path or URL looks like it holds when that is a private key or a secret (`a private key (id_rsa)`), or
    None. Read from its path only (a URL's query, where a SAS token lives, is left out); public keys and
    certificates pass."""
    text = str(path or "").strip().strip("\"'`")
    text = re.sub(r"^[a-z][a-z0-9+.-]*://[^/]*", "", text.split("?", 1)[0].split("#", 1)[0], flags=re.IGNORECASE)
    parts = [p for p in re.split(r"[\\/]", text) if p and p not in (".", "~")]
    if not parts:
        return None
    name, folders = parts[-1], [p.lower() for p in parts[:-1]]
    if _PUBLIC_NAME.search(name):
        return None
    if _PRIVATE_KEY_NAME.search(name):
        return f"a private key or key store ({name})"
    if _SECRET_NAME.search(name) and not _PACKAGE.search(name):
        return f"a credential or secret file ({name})"
    folder = next((f for f in folders if f in _SECRET_FOLDER), None)
    if folder:
        return f"a file from a {folder!r} folder ({name})"
    return None


# Commands that fetch a named object from storage or a vault (beside FETCH's web clients).
_STORE_FETCH = re.compile(r"\baz\s+storage\s+(?:blob|file|fs\s+file)\s+download(?:-batch)?\b|\bazcopy(?:\.exe)?\s+(?:copy|cp|sync)\b"
                          r"|\baws\s+s3\s+(?:cp|sync|mv)\b|\b(?:gsutil|gcloud\s+storage)\s+(?:cp|rsync|mv)\b"
                          r"|\bGet-AzStorageBlobContent\b|\brclone\s+(?:copy|copyto|sync|move)\b", re.IGNORECASE)
_VAULT_SECRET = re.compile(r"\baz\s+keyvault\s+secret\s+(?:show|download)\b|\bGet-AzKeyVaultSecret\b"
                           r"|\bvault\s+kv\s+get\b|\baws\s+secretsmanager\s+get-secret-value\b"
                           r"|\bgcloud\s+secrets\s+versions\s+access\b", re.IGNORECASE)
_COMMAND = re.compile(r"[^\n;&|]+")  # one command of a pipeline or list


def key_downloads(lines: Iterable[object]) -> Optional[str]:
    """What one step's inline commands fetch that looks like a private key or a secret (a URL or download target that
    `key_material` recognises, or a vault secret read), or None. The message names the file, never the command."""
    text = _joined(lines)
    for command in _COMMAND.finditer(text):
        segment = command.group(0)
        if _VAULT_SECRET.search(segment):
            return "inline commands read a secret from a vault into the build VM, and so into the image"
        fetching = re.search(FETCH, segment, re.IGNORECASE)
        if not fetching and not _STORE_FETCH.search(segment):
            continue
        candidates = [u.group(0) for u in _URL.finditer(segment)] + sorted(_download_paths(segment))
        if not fetching:  # storage tools: every argument that names an object or a file, blobs under their container
            candidates += [w for w in segment.split()[2:] if not w.startswith("-")]
            named = [m.group(1) for m in re.finditer(r"(?:^|\s)(?:--name|-n|--file|-f|--destination|-d|-Blob"
                                                     r"|-Destination)[=\s]+(\S+)", segment)]
            containers = [m.group(1) for m in re.finditer(r"(?:^|\s)(?:--container-name|-c|--source|-s|-Container)"
                                                          r"[=\s]+(\S+)", segment)]
            candidates += named + [f"/{c.strip(chr(34) + chr(39))}/{n}" for c in containers for n in named or ["(blobs)"]]
        for candidate in candidates:
            what = key_material(candidate)
            if what:
                return f"inline commands download what looks like {what} into the image"
    return None


# --- uploads: what leaves the build VM -----------------------------------------------------------------------------------
# A build VM holds what the build put there (licences, the identities' tokens, the image itself); a step that sends a
# file out of it is how that leaves. Each pattern is one tool's way of sending a file or its standard input; sending a
# literal (`curl -d '{"a":1}'`) or downloading is not an upload.

_CURL_NOARG = "fsSLkvqgGnNlJjpRO0123456iI#:"  # curl's short options that take no argument (may precede one that does)
# [user@]host: of scp and rsync, the host also a variable (not C:\ nor https://)
_REMOTE = r"(?:[\w.$@{}-]+@)?(?:[\w-]{2,}(?:\.[\w-]+)*|\$\{?\w+\}?):(?![\\/]{2})"
_UPLOADS: list[tuple[str, re.Pattern[str]]] = [(tool, re.compile(pattern, re.IGNORECASE)) for tool, pattern in [
    ("curl -T/--upload-file", rf"\bcurl\b[^\n;&|]*\s(?:-[{_CURL_NOARG}]*T|--upload-file\b)"),
    ("curl -F with a file", rf"\bcurl\b[^\n;&|]*\s(?:-[{_CURL_NOARG}]*F\s*|--form(?!-string)[=\s]+)[\"']?[^\s\"'=]*=[@<]"),
    ("curl --data @file", rf"\bcurl\b[^\n;&|]*\s(?:-[{_CURL_NOARG}]*d\s*|--data(?:-binary|-ascii)?[=\s]+|--json[=\s]+)"
                          r"[\"']?@"
                          r"|\bcurl\b[^\n;&|]*\s--data-urlencode[=\s]+[\"']?[^\s\"'=@]*@"),
    ("wget --post-file/--body-file", r"\bwget\b[^\n;&|]*\s--(?:post|body)-file\b"),
    ("scp to a remote host", rf"\bscp\b[^\n;&|]*\s[\"']?(?:scp://|{_REMOTE})[^\s|]*[\"']?\s*(?:$|\|)"),
    ("rsync to a remote host", rf"\brsync\b[^\n;&|]*\s[\"']?(?:rsync://|{_REMOTE})[^\s|]*[\"']?\s*(?:$|\|)"),
    ("sftp/ftp put", r"\b(?:sftp|lftp|ftp|tftp)\b[^\n;&]*\bm?put\b|\bm?put\s[^\n;&]*\|\s*(?:sftp|lftp|ftp|tftp)\b"
                     r"|\bncftpput\b|\bcurl\b[^\n;&|]*\sftps?://[^\n;&|]*\s-[^\s-]*T"),
    ("netcat or /dev/tcp", r"(?:^|\|)\s*(?:sudo\s+)?(?:nc|ncat|netcat|socat)\s[^\n;&|]*<\s*[^\s<(]"
                           r"|\|\s*(?:nc|ncat|netcat)\s+\S+\s+\d+"
                           r"|>\s*/dev/(?:tcp|udp)/"),
    ("az storage upload", r"\baz\s+storage\s+(?:blob|file|fs\s+file|fs\s+directory)\s+(?:upload(?:-batch)?|sync)\b"
                          r"|\baz\s+storage\s+copy\b[^\n;&|]*(?:--source|-s)\s+[\"']?(?!https?://)[^\s\"']"),
    ("azcopy to a URL", r"\bazcopy(?:\.exe)?\s+(?:copy|cp|sync)\s+(?:--?\S+\s+)*[\"']?(?!https?://)[^\s\"'-][^\s\"']*[\"']?"
                        r"\s+[\"']?https?://"),
    ("aws s3 / gsutil / rclone upload", r"\baws\s+s3\s+(?:cp|sync|mv)\s+(?:--?\S+\s+)*[\"']?(?!s3://)[^\s\"'-]\S*\s+[\"']?s3://"
                                        r"|\b(?:gsutil|gcloud\s+storage)\s+(?:-\S+\s+)*(?:cp|rsync|mv)\s+(?:-\S+\s+)*"
                                        r"[\"']?(?!gs://)[^\s\"'-]\S*\s+[\"']?gs://"
                                        r"|\brclone\s+(?:copy|copyto|sync|move)\s+(?:-\S+\s+)*[\"']?(?![\w-]+:)\S+\s+[\"']?[\w-]+:"),
    ("git/docker push", r"\bgit\b[^\n;&|]*\spush(?=\s|$)|\bdocker\s+(?:image\s+)?push\b|\bgh\s+(?:release\s+upload|gist\s+create)\b"),
    ("Invoke-WebRequest -InFile", r"\b(?:Invoke-WebRequest|Invoke-RestMethod|iwr|irm|curl|wget)\b[^\n;|]*\s-InFile\b"
                                  r"|\b(?:Invoke-WebRequest|Invoke-RestMethod|iwr|irm)\b[^\n;|]*\s-Body\s*\(?\s*"
                                  r"(?:Get-Content|gc|cat|\[(?:System\.)?IO\.File\]::Read)"),
    ("WebClient upload", r"\.\s*Upload(?:File|Data|String|Values)(?:Async)?\s*\("),
    ("BITS upload", r"\bStart-BitsTransfer\b[^\n;|]*-TransferType\s+Upload|\bbitsadmin\b[^\n;|]*/upload\b"),
    ("Azure PowerShell upload", r"\bSet-AzStorage(?:Blob|File)Content\b"),
    ("mail with an attachment", r"\bSend-MailMessage\b[^\n;|]*-Attachments?\b"
                                r"|(?:^|\|)\s*(?:sudo\s+)?(?:mail|mailx|mutt)\s[^\n;|]*\s-a\s"),
]]


def uploads(lines: Iterable[object]) -> Optional[str]:
    """How one step's inline commands send a file or data out of the build VM (the tool, e.g. `curl -T/--upload-file`),
    or None. The command itself is not quoted: it may hold a secret."""
    text = _joined(lines)
    for command in _SEGMENT.finditer(text):
        segment = command.group(0)
        for tool, pattern in _UPLOADS:
            if pattern.search(segment):
                return f"inline commands upload data out of the build VM ({tool})"
    return None
