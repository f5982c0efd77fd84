//! The HTML of a directory listing.
//!
//! Invariants: every name is HTML-escaped in text and percent-encoded in
//! links, so a file name can never inject markup; dot-files (and names that
//! a request could not address) are left out, as they cannot be fetched.

use crate::path::{encode_into, RelPath};

/// One directory entry, as the file system reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name (one path segment).
    pub name: String,
    /// True for a directory (the link gets a trailing `/`).
    pub is_dir: bool,
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Modification time, where known.
    pub modified: Option<std::time::SystemTime>,
}

/// The column a listing is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// By name (the default).
    Name,
    /// By size.
    Size,
    /// By modification time.
    Time,
}

/// How a listing is ordered: `?sort=name|size|time&order=asc|desc`.
/// Directories always come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    /// The column.
    pub key: SortKey,
    /// Descending instead of ascending.
    pub desc: bool,
}

impl Order {
    /// The order a request target's query asks for; anything unknown
    /// falls back to name, ascending.
    pub fn from_target(target: &str) -> Order {
        let mut order = Order {
            key: SortKey::Name,
            desc: false,
        };
        let query = target.split_once('?').map_or("", |(_, q)| q);
        let query = query.split('#').next().unwrap_or("");
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("sort", "name")) => order.key = SortKey::Name,
                Some(("sort", "size")) => order.key = SortKey::Size,
                Some(("sort", "time")) => order.key = SortKey::Time,
                Some(("order", "desc")) => order.desc = true,
                Some(("order", "asc")) => order.desc = false,
                _ => {}
            }
        }
        order
    }
}

/// Appends `s` to `out` with `&`, `<`, `>`, `"` and `'` escaped, for text
/// and attribute values alike.
pub fn escape_html(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// True for characters that change how the text around them is shown
/// (controls, and the bidirectional marks, embeddings, overrides and
/// isolates behind "Trojan Source"-style spoofing): a listing shows them
/// as visible escapes, never raw.
pub fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// Appends a file name for display: HTML-escaped, with deceptive
/// characters shown as `\u{…}`.
pub fn escape_name(s: &str, out: &mut String) {
    for c in s.chars() {
        if is_deceptive(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            let mut b = [0u8; 4];
            escape_html(c.encode_utf8(&mut b), out);
        }
    }
}

/// The page's style sheet: inline, so the page is one self-contained
/// response; light and dark; readable on a phone.
pub const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1b1b1b;background:#fff}\
h1{font-size:1.25rem;word-break:break-all}table{border-collapse:collapse;width:100%}\
th,td{padding:.35rem .5rem;text-align:left;border-bottom:1px solid #ddd}th a{color:inherit}\
td.n{word-break:break-all}td.s,th.s{text-align:right;white-space:nowrap}td.t{white-space:nowrap}\
a{color:#0645ad}tr:hover td{background:#f4f6fa}footer{margin-top:.8rem;color:#555}\
@media (prefers-color-scheme:dark){body{color:#e4e4e4;background:#16181c}th,td{border-color:#333}\
a{color:#8ab4f8}tr:hover td{background:#22262d}footer{color:#aaa}}\
body.drop{outline:3px dashed #0645ad;outline-offset:-6px}#progress{padding-left:1.2rem}\
td.d{text-align:right;width:1%;white-space:nowrap}button{font:inherit;cursor:pointer}\
nav.crumbs{display:inline}nav.crumbs a{text-decoration:none}nav.crumbs a:hover{text-decoration:underline}\
.sprite{position:absolute}svg.i{width:1.15em;height:1.15em;vertical-align:-.2em;margin-right:.45em;fill:#90a4ae}\
.k-dir{fill:#e0a030!important}.k-image{fill:#2a9d8f!important}.k-audio{fill:#8e44ad!important}.k-video{fill:#c0392b!important}\
.k-archive{fill:#8d6e63!important}.k-pdf{fill:#d32f2f!important}.k-text{fill:#546e7a!important}.k-code{fill:#1565c0!important}\
.zone{border:2px dashed #8aa0c0;border-radius:12px;padding:1rem;margin:.5rem 0 1rem;text-align:center;background:#f7f9fc}\
.btn{display:inline-block;border:1px solid #0645ad;border-radius:6px;padding:.25rem .7rem;margin:.2rem;color:#0645ad;background:none;position:relative}\
.btn input{position:absolute;left:0;top:0;width:100%;height:100%;opacity:0;cursor:pointer}\
td.d button{border:1px solid #bbb;border-radius:5px;background:none;color:inherit;padding:.1rem .45rem;margin-left:.2rem}\
#progress li.ok{color:#1a7f37}#progress li.bad{color:#b42318}\
@media (prefers-color-scheme:dark){.zone{background:#1c2028;border-color:#4a5a78}.btn{color:#8ab4f8;border-color:#8ab4f8}\
#progress li.ok{color:#4ac26b}#progress li.bad{color:#f47067}}\
@media (max-width:36rem){td.t,th.t{display:none}}";

/// A script on every page: each `<time>` shown in the visitor's local
/// time, with the UTC time in its title (without JavaScript the page
/// shows UTC).
pub const TIME_SCRIPT: &str = r#"document.querySelectorAll("time").forEach(function(t){var d=new Date(t.dateTime);if(!isNaN(d)){t.title=t.dateTime.replace("T"," ").replace("Z"," UTC");t.textContent=d.toLocaleString();}});"#;

/// The page's only script, present when the visitor may write: uploads
/// (file picker, folders, drag and drop; one PUT each with a progress bar
/// and a cancel button; `If-None-Match: *` first, asking before replacing;
/// `Content-Digest` when `crypto.subtle` is there) and delete buttons.
pub const SCRIPT: &str = r#"(function(){
"use strict";
var dir=location.pathname.endsWith("/")?location.pathname:location.pathname+"/";
var list=document.getElementById("progress");
function enc(p){return p.split("/").map(encodeURIComponent).join("/");}
function digest(file){
 if(!(window.crypto&&crypto.subtle)||file.size>268435456){return Promise.resolve(null);}
 return file.arrayBuffer().then(function(b){return crypto.subtle.digest("SHA-256",b);}).then(function(h){
  var s="",a=new Uint8Array(h);for(var i=0;i<a.length;i++){s+=String.fromCharCode(a[i]);}
  return "sha-256=:"+btoa(s)+":";}).catch(function(){return null;});
}
function put(file,rel,overwrite){return digest(file).then(function(d){return new Promise(function(resolve){
 var li=document.createElement("li"),label=document.createElement("span"),bar=document.createElement("progress"),cancel=document.createElement("button");
 label.textContent=rel;bar.max=file.size||1;bar.value=0;cancel.type="button";cancel.textContent="Cancel";
 li.append(label," ",bar," ",cancel);list.append(li);
 var x=new XMLHttpRequest();x.open("PUT",dir+enc(rel));
 if(!overwrite){x.setRequestHeader("If-None-Match","*");}
 if(d){x.setRequestHeader("Content-Digest",d);}
 x.upload.onprogress=function(e){bar.value=e.loaded;};
 cancel.onclick=function(){x.abort();};
 x.onload=function(){
  if(x.status===412&&!overwrite){li.remove();
   if(confirm(rel+" exists. Replace it?")){put(file,rel,true).then(resolve);}else{resolve(false);}return;}
  label.textContent=rel+": "+x.status+" "+x.statusText;li.className=x.status<300?"ok":"bad";cancel.remove();bar.value=bar.max;resolve(x.status<300);};
 x.onerror=x.onabort=function(){label.textContent=rel+": not sent";cancel.remove();resolve(false);};
 x.send(file);});});}
var made={};
function mkdirs(rel){var parts=rel.split("/"),acc="",p=Promise.resolve();parts.pop();
 parts.forEach(function(seg){acc+=seg+"/";var d=acc;p=p.then(function(){if(made[d]){return;}made[d]=1;
  return new Promise(function(res){var x=new XMLHttpRequest();x.open("MKCOL",dir+enc(d));x.onloadend=function(){res();};x.send();});});});
 return p;}
function send(items){var p=Promise.resolve();items.forEach(function(it){p=p.then(function(){return mkdirs(it[1]);}).then(function(){return put(it[0],it[1],false);});});
 p.then(refresh);}
function req(method,url,headers){return new Promise(function(res){var x=new XMLHttpRequest();x.open(method,url);
 Object.keys(headers||{}).forEach(function(k){x.setRequestHeader(k,headers[k]);});x.onloadend=function(){res(x);};x.send();});}
function note(text,ok){var li=document.createElement("li");li.textContent=text;li.className=ok?"ok":"bad";list.append(li);}
function outcome(what,x){note(what+": "+x.status+" "+x.statusText,x.status>=200&&x.status<300);return x;}
function refresh(){return fetch(location.href,{cache:"no-store"}).then(function(r){return r.text();}).then(function(t){
 var doc=new DOMParser().parseFromString(t,"text/html");
 ["table","footer"].forEach(function(sel){var n=doc.querySelector(sel),o=document.querySelector(sel);if(n&&o){o.replaceWith(n);}});
 wire();});}
function count(url,depth){return req("PROPFIND",url,{"Depth":"1"}).then(function(x){
 if(x.status!==207){return 0;}var doc=new DOMParser().parseFromString(x.responseText,"application/xml");
 var rs=Array.from(doc.getElementsByTagNameNS("DAV:","response")).slice(1),n=rs.length;
 if(depth>16||n>10000){return n;}
 var subs=rs.filter(function(r){return r.getElementsByTagNameNS("DAV:","collection").length>0;})
  .map(function(r){return r.getElementsByTagNameNS("DAV:","href")[0].textContent;});
 return subs.reduce(function(p,h){return p.then(function(a){return count(h,depth+1).then(function(c){return a+c;});});},Promise.resolve(n));});}
function dest(folder,name,isdir){var f=folder.trim();if(!f.startsWith("/")){f="/"+f;}if(!f.endsWith("/")){f+="/";}
 return location.origin+enc(f.slice(0,-1))+"/"+enc(name)+(isdir?"/":"");}
function wire(){
 document.querySelectorAll("time").forEach(function(t){var d=new Date(t.dateTime);if(!isNaN(d)){t.title=t.dateTime.replace("T"," ").replace("Z"," UTC");t.textContent=d.toLocaleString();}});
 document.querySelectorAll("tbody tr").forEach(function(tr){var a=tr.querySelector("td.n a"),td=tr.querySelector("td.d");
  if(!a||!td||td.firstChild||a.getAttribute("href")==="../"){return;}
  var href=a.getAttribute("href"),isdir=href.endsWith("/")?"1":"0";
  [["ren","Rename"],["mv","Move"],["del","Delete"]].forEach(function(c){var b=document.createElement("button");
   b.type="button";b.className=c[0];b.textContent=c[1];b.dataset.href=href;b.dataset.label=a.title;b.dataset.dir=isdir;td.append(b);});});
 document.querySelectorAll("button.del").forEach(function(b){b.onclick=function(){var isdir=b.dataset.dir==="1";
  (isdir?count(b.dataset.href,0):Promise.resolve(0)).then(function(n){
   var msg=isdir?"Delete the folder "+b.dataset.label+" and the "+n+" entr"+(n===1?"y":"ies")+" in it?":"Delete "+b.dataset.label+"?";
   if(!confirm(msg)){return;}
   req("DELETE",b.dataset.href).then(function(x){outcome("Delete "+b.dataset.label,x);refresh();});});};});
 document.querySelectorAll("button.ren").forEach(function(b){b.onclick=function(){var isdir=b.dataset.dir==="1";
  var n=prompt("New name for "+b.dataset.label,b.dataset.label);if(!n||n===b.dataset.label||n.indexOf("/")>=0){return;}
  req("MOVE",b.dataset.href,{"Destination":dest(dir,n,isdir),"Overwrite":"F"}).then(function(x){outcome("Rename "+b.dataset.label+" to "+n,x);refresh();});};});
 document.querySelectorAll("button.mv").forEach(function(b){b.onclick=function(){var isdir=b.dataset.dir==="1";
  var f=prompt("Move "+b.dataset.label+" into the folder (a path from /)",decodeURIComponent(dir));if(!f){return;}
  req("MOVE",b.dataset.href,{"Destination":dest(f,b.dataset.label,isdir),"Overwrite":"F"}).then(function(x){outcome("Move "+b.dataset.label+" to "+f,x);refresh();});};});
}
var mk=document.getElementById("mkdir");
if(mk){mk.onclick=function(){var n=prompt("Name of the new folder");if(!n||n.indexOf("/")>=0){return;}
 req("MKCOL",dir+enc(n)+"/").then(function(x){outcome("New folder "+n,x);refresh();});};}
wire();
var files=document.getElementById("files"),folder=document.getElementById("folder");
files.onchange=function(){send(Array.from(files.files).map(function(f){return [f,f.name];}));};
folder.onchange=function(){send(Array.from(folder.files).map(function(f){return [f,f.webkitRelativePath||f.name];}));};
function walk(entry,prefix,out){return new Promise(function(done){
 if(entry.isFile){entry.file(function(f){out.push([f,prefix+f.name]);done();},function(){done();});}
 else if(entry.isDirectory){var r=entry.createReader(),all=[];
  var next=function(){r.readEntries(function(es){if(es.length){all=all.concat(Array.from(es));next();return;}
   var p=Promise.resolve();all.forEach(function(e){p=p.then(function(){return walk(e,prefix+entry.name+"/",out);});});p.then(done);},function(){done();});};
  next();}
 else{done();}});}
document.addEventListener("dragover",function(e){e.preventDefault();document.body.classList.add("drop");});
document.addEventListener("dragleave",function(){document.body.classList.remove("drop");});
document.addEventListener("drop",function(e){e.preventDefault();document.body.classList.remove("drop");
 var out=[],p=Promise.resolve();Array.from(e.dataTransfer.items).forEach(function(it){
  var en=it.webkitGetAsEntry&&it.webkitGetAsEntry();
  if(en){p=p.then(function(){return walk(en,"",out);});}else{var f=it.getAsFile();if(f){out.push([f,f.name]);}}});
 p.then(function(){send(out);});});
})();"#;

fn sha256_b64(s: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(s))
}

/// The Content-Security-Policy of a listing: nothing but its own inline
/// style and script (by hash) may run or load, and requests go only to
/// this server, so a hostile file name can never run script even if
/// escaping were to fail.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}' 'sha256-{}'; \
         connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        sha256_b64(STYLE),
        sha256_b64(SCRIPT),
        sha256_b64(TIME_SCRIPT)
    )
}

/// A size in human units (`1.5 KiB`), bytes below 1 KiB.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// ISO 8601 in UTC, to the second: `2026-11-26T16:43:20Z`.
pub fn iso8601(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (y, m, d) = crate::log::civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Renders the listing of `dir` as a table (name, size, modified), in
/// `order` with directories first, a parent row below the root, and a
/// summary line. Every name is escaped wherever it appears.
pub fn render(
    dir: &RelPath,
    entries: &[Entry],
    order: Order,
    writable: bool,
    login_link: bool,
) -> String {
    let mut shown: Vec<&Entry> = entries
        .iter()
        .filter(|e| dir.join(&e.name).is_ok())
        .collect();
    shown.sort_by(|a, b| {
        let by = match order.key {
            SortKey::Name => a.name.cmp(&b.name),
            SortKey::Size => a.size.cmp(&b.size).then_with(|| a.name.cmp(&b.name)),
            SortKey::Time => a
                .modified
                .cmp(&b.modified)
                .then_with(|| a.name.cmp(&b.name)),
        };
        b.is_dir
            .cmp(&a.is_dir)
            .then(if order.desc { by.reverse() } else { by })
    });
    let title_path = dir.href(true);
    let mut out = String::with_capacity(1024 + shown.len() * 200);
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Index of ",
    );
    escape_name(&percent_decoded(dir), &mut out);
    out.push_str("</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head>\n<body>");
    out.push_str(ICONS);
    out.push_str("<h1>Index of <nav class=\"crumbs\">");
    breadcrumb(dir, &mut out);
    out.push_str("</nav></h1>\n");
    if login_link && !writable {
        out.push_str(
            "<p class=\"login\"><a href=\"?login\">Log in</a> to upload and manage files.</p>\n",
        );
    }
    if writable {
        out.push_str(
            "<section id=\"upload\"><div class=\"zone\"><strong>Drop files or folders here</strong> or \
<label class=\"btn\">Choose files<input type=\"file\" id=\"files\" multiple></label>\
<label class=\"btn\">Choose a folder<input type=\"file\" id=\"folder\" webkitdirectory multiple></label>\
<button type=\"button\" class=\"btn\" id=\"mkdir\">New folder</button></div>\
<ul id=\"progress\"></ul></section>\n",
        );
    }
    out.push_str("<table>\n<thead><tr>");
    for (key, label, class) in [
        (SortKey::Name, "Name", "n"),
        (SortKey::Size, "Size", "s"),
        (SortKey::Time, "Modified", "t"),
    ] {
        let (next, mark) = if order.key == key {
            (
                !order.desc,
                if order.desc { " \u{2193}" } else { " \u{2191}" },
            )
        } else {
            (false, "")
        };
        let sort = match key {
            SortKey::Name => "name",
            SortKey::Size => "size",
            SortKey::Time => "time",
        };
        let dir_word = if next { "desc" } else { "asc" };
        out.push_str(&format!(
            "<th class=\"{class}\"><a href=\"?sort={sort}&amp;order={dir_word}\">{label}{mark}</a></th>"
        ));
    }
    if writable {
        out.push_str("<th class=\"d\"></th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    if !dir.is_root() {
        out.push_str(
            "<tr><td class=\"n\"><a href=\"../\">../</a></td><td class=\"s\"></td><td class=\"t\"></td>",
        );
        if writable {
            out.push_str("<td class=\"d\"></td>");
        }
        out.push_str("</tr>\n");
    }
    let (mut dirs, mut files, mut total) = (0u64, 0u64, 0u64);
    for e in shown {
        // The href is percent-encoded, then HTML-escaped as an attribute
        // value: `&` stays a literal `&` for the browser.
        let mut href = title_path.clone();
        encode_into(&e.name, &mut href);
        if e.is_dir {
            href.push('/');
            dirs += 1;
        } else {
            files += 1;
            total = total.saturating_add(e.size);
        }
        out.push_str("<tr><td class=\"n\">");
        out.push_str(&icon(&e.name, e.is_dir));
        out.push_str("<a href=\"");
        escape_html(&href, &mut out);
        out.push_str("\" title=\"");
        escape_name(&e.name, &mut out);
        out.push_str("\">");
        escape_name(&e.name, &mut out);
        if e.is_dir {
            out.push('/');
        }
        out.push_str("</a></td><td class=\"s\"");
        if e.is_dir {
            out.push_str("></td>");
        } else {
            out.push_str(&format!(
                " title=\"{} bytes\">{}</td>",
                e.size,
                human_size(e.size)
            ));
        }
        match e.modified {
            Some(t) => {
                let iso = iso8601(t);
                out.push_str(&format!(
                    "<td class=\"t\"><time datetime=\"{iso}\">{iso}</time></td>"
                ));
            }
            None => out.push_str("<td class=\"t\"></td>"),
        }
        if writable {
            // The script adds Rename, Move and Delete here, from the row's
            // link (its href, and its title: the name as shown): the page
            // stays small for huge folders, and no raw name is repeated.
            out.push_str("<td class=\"d\"></td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str(&format!(
        "</tbody>\n</table>\n<footer>{dirs} folder{}, {files} file{}, {} in all</footer>\n",
        if dirs == 1 { "" } else { "s" },
        if files == 1 { "" } else { "s" },
        human_size(total)
    ));
    out.push_str("<script>");
    out.push_str(if writable { SCRIPT } else { TIME_SCRIPT });
    out.push_str("</script>\n");
    out.push_str("</body></html>\n");
    out
}

/// The path as links, one per folder on the way: `/ › a › b`.
fn breadcrumb(dir: &RelPath, out: &mut String) {
    out.push_str("<a href=\"/\">/</a>");
    let mut href = String::from("/");
    for seg in dir.segments() {
        encode_into(seg, &mut href);
        href.push('/');
        out.push_str(" <a href=\"");
        escape_html(&href, out);
        out.push_str("\">");
        escape_name(seg, out);
        out.push_str("/</a>");
    }
}

/// The icons, drawn once as SVG symbols and used by each row (inline
/// SVG, so no image request and no font needed).
const ICONS: &str = "<svg class=\"sprite\" width=\"0\" height=\"0\" aria-hidden=\"true\">\
<symbol id=\"i-d\" viewBox=\"0 0 24 24\"><path d=\"M2 6a2 2 0 0 1 2-2h5l2 2h9a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2z\"/></symbol>\
<symbol id=\"i-f\" viewBox=\"0 0 24 24\"><path d=\"M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2z\"/>\
<path d=\"M14 2v6h6\" fill=\"none\" stroke=\"#fff\" stroke-width=\"1.2\" opacity=\".7\"/></symbol></svg>";

/// The icon of a row: a folder, or a page coloured by the kind of file
/// its name suggests.
fn icon(name: &str, is_dir: bool) -> String {
    let (symbol, kind) = if is_dir {
        ("i-d", "dir")
    } else {
        ("i-f", kind_of(name))
    };
    format!("<svg class=\"i k-{kind}\"><use href=\"#{symbol}\"/></svg>")
}

/// The kind of file a name suggests, for its icon's colour.
fn kind_of(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" | "jpg" | "jpeg" | "gif" | "webp" | "svg" | "bmp" | "heic" | "avif" => "image",
        "mp3" | "flac" | "ogg" | "wav" | "m4a" | "opus" => "audio",
        "mp4" | "mkv" | "webm" | "mov" | "avi" => "video",
        "zip" | "tar" | "gz" | "tgz" | "xz" | "zst" | "7z" | "rar" | "bz2" => "archive",
        "pdf" => "pdf",
        "txt" | "md" | "log" | "csv" | "doc" | "docx" | "odt" | "rtf" => "text",
        "rs" | "py" | "js" | "ts" | "c" | "h" | "go" | "java" | "sh" | "html" | "css" | "json"
        | "toml" | "yaml" | "yml" | "xml" => "code",
        _ => "file",
    }
}

fn percent_decoded(dir: &RelPath) -> String {
    let mut s = String::from("/");
    for seg in dir.segments() {
        s.push_str(seg);
        s.push('/');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::resolve_target;

    #[test]
    fn escapes_and_sorts() {
        let entries = vec![
            Entry {
                name: "b.txt".into(),
                is_dir: false,
                size: 3,
                modified: None,
            },
            Entry {
                name: "<script>alert(1)<script>".into(),
                is_dir: false,
                size: 3,
                modified: None,
            },
            Entry {
                name: "sub".into(),
                is_dir: true,
                size: 0,
                modified: None,
            },
            Entry {
                name: ".secret".into(),
                is_dir: false,
                size: 3,
                modified: None,
            },
            Entry {
                name: "a\"b".into(),
                is_dir: false,
                size: 3,
                modified: None,
            },
        ];
        let mut entries = entries;
        entries.push(Entry {
            name: "&amp;.txt".into(),
            is_dir: false,
            size: 1,
            modified: None,
        });
        entries.push(Entry {
            name: "evil\u{202e}txt.exe".into(),
            is_dir: false,
            size: 2,
            modified: None,
        });
        let html = render(
            &resolve_target("/d%20x/").unwrap(),
            &entries,
            Order::from_target("/d%20x/"),
            false,
            false,
        );
        // `&` in a name is escaped inside the href too.
        assert!(html
            .contains("href=\"/d%20x/&amp;amp;.txt\" title=\"&amp;amp;.txt\">&amp;amp;.txt</a>"));
        // A bidi override is shown, not obeyed.
        assert!(!html.contains('\u{202e}'));
        assert!(html.contains("evil\\u{202e}txt.exe"));
        // The only script is pared's own (the local-time one, read-only).
        assert_eq!(html.matches("<script>").count(), 1);
        assert!(html.contains(&format!("<script>{TIME_SCRIPT}</script>")));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;script&gt;"));
        assert!(html.contains("href=\"/d%20x/%3Cscript%3Ealert(1)%3Cscript%3E\""));
        assert!(html.contains("href=\"/d%20x/a%22b\" title=\"a&quot;b\">a&quot;b</a>"));
        assert!(!html.contains("secret"));
        assert!(html.contains("<title>Index of /d x/</title>"));
        let sub = html.find("sub/").unwrap();
        assert!(sub < html.find("b.txt").unwrap(), "directories first");
        assert!(html.contains("href=\"../\""));
    }

    #[test]
    fn table_sorting_and_units() {
        let t = |s: u64| Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(s));
        let entries = vec![
            Entry {
                name: "small".into(),
                is_dir: false,
                size: 10,
                modified: t(300),
            },
            Entry {
                name: "big".into(),
                is_dir: false,
                size: 5000,
                modified: t(100),
            },
            Entry {
                name: "zdir".into(),
                is_dir: true,
                size: 0,
                modified: t(200),
            },
        ];
        let dir = resolve_target("/").unwrap();
        let pos = |html: &str, n: &str| html.find(&format!(">{n}<")).unwrap_or(usize::MAX);
        let by_size = render(
            &dir,
            &entries,
            Order::from_target("/?sort=size&order=desc"),
            false,
            false,
        );
        assert!(
            pos(&by_size, "zdir/") < pos(&by_size, "big"),
            "directories first"
        );
        assert!(pos(&by_size, "big") < pos(&by_size, "small"));
        let by_time = render(
            &dir,
            &entries,
            Order::from_target("/?sort=time"),
            false,
            false,
        );
        assert!(pos(&by_time, "big") < pos(&by_time, "small"));
        assert!(by_size.contains("title=\"5000 bytes\">4.9 KiB<"));
        assert!(by_size.contains("1970-01-01T00:01:40Z"));
        assert!(by_size.contains("1 folder, 2 files, 4.9 KiB in all"));
        // The current column's header link flips the order.
        assert!(by_size.contains("href=\"?sort=size&amp;order=asc\""));
        assert!(
            !by_size.contains("href=\"../\""),
            "no parent row at the root"
        );
        assert_eq!(
            Order::from_target("/x?sort=bogus&order=up").key,
            SortKey::Name
        );
        assert_eq!(human_size(1023), "1023 B");
        // The CSP allows exactly the inline style and script.
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(csp.contains(&format!(
            "script-src 'sha256-{}' 'sha256-{}'",
            sha256_b64(SCRIPT),
            sha256_b64(TIME_SCRIPT)
        )));
        assert!(!csp.contains("unsafe"));
        assert!(
            !by_size.contains(SCRIPT) && !by_size.contains("<button"),
            "no controls without writes"
        );
        let w = render(&dir, &entries, Order::from_target("/"), true, false);
        assert!(w.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(!w.contains(&format!("<script>{TIME_SCRIPT}</script>")));
        assert!(w.contains("<td class=\"d\"></td>"));
        assert!(w.contains("id=\"mkdir\""));
        assert!(w.contains("id=\"files\"") && w.contains("webkitdirectory"));
    }
}
