//! The directory page's fixed parts: its style sheet, scripts and icons,
//! and the Content-Security-Policy that allows exactly these.

/// The page's style sheet: inline, so the page is one self-contained
/// response; light and dark; readable on a phone.
pub const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1b1b1b;background:#fff}\
h1{font-size:1.25rem;word-break:break-all}table{border-collapse:collapse;width:100%}\
th,td{padding:.35rem .5rem;text-align:left;border-bottom:1px solid #ddd}th a{color:inherit}\
td.n{word-break:break-all}td.s,th.s{text-align:right;white-space:nowrap}td.t{white-space:nowrap}\
a{color:#0645ad}tr:hover td{background:#f4f6fa}footer,nav.pages{margin-top:.8rem;color:#555}form.search{margin:.4rem 0 .8rem}form.search input{font:inherit;padding:.2rem .4rem;width:min(22rem,60%)}\
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
var PART=8388608;
function hdr(x,n){var v=x.getResponseHeader(n);return v===null?null:v.trim();}
function bigput(file,rel,overwrite){return new Promise(function(resolve){
 var li=document.createElement("li"),label=document.createElement("span"),bar=document.createElement("progress"),cancel=document.createElement("button");
 label.textContent=rel;bar.max=file.size;bar.value=0;cancel.type="button";cancel.textContent="Cancel";
 li.append(label," ",bar," ",cancel);list.append(li);
 var key="pared-upload:"+location.pathname+rel+":"+file.size+":"+file.lastModified,loc=null,cur=null,stop=false,tries=0;
 function end(ok,text){label.textContent=rel+": "+text;li.className=ok?"ok":"bad";cancel.remove();if(ok){bar.value=bar.max;}resolve(ok);}
 function x(method,url,h,body,on,prog){var r=new XMLHttpRequest();cur=r;r.open(method,url);Object.keys(h).forEach(function(k){r.setRequestHeader(k,h[k]);});
  r.onload=function(){on(r);};r.onerror=r.onabort=function(){on(null);};if(prog){r.upload.onprogress=prog;}r.send(body);}
 function retry(){if(stop){return;}tries++;if(tries>120){localStorage.removeItem(key);end(false,"not sent");return;}
  label.textContent=rel+": connection lost, resuming";setTimeout(offset,1000);}
 function offset(){x("HEAD",loc,{},null,function(r){if(stop){return;}
  if(r&&r.status===204){send(parseInt(hdr(r,"Upload-Offset"),10));}
  else if(r&&r.status===404){localStorage.removeItem(key);create();}
  else{retry();}});}
 function send(off){bar.value=off;label.textContent=rel;var last=off+PART>=file.size;
  var h={"Content-Type":"application/partial-upload","Upload-Offset":String(off),"Upload-Complete":last?"?1":"?0"};
  x("PATCH",loc,h,file.slice(off,Math.min(file.size,off+PART)),function(r){if(stop){return;}
   if(r===null||r.status===0||r.status>=500){retry();return;}
   tries=0;
   if(hdr(r,"Upload-Complete")==="?1"){localStorage.removeItem(key);end(r.status<300,r.status+" "+r.statusText);return;}
   if(r.status===204){send(parseInt(hdr(r,"Upload-Offset"),10));return;}
   if(r.status===409){send(parseInt(hdr(r,"Upload-Offset"),10));return;}
   localStorage.removeItem(key);end(false,r.status+" "+r.statusText);},function(e){bar.value=off+e.loaded;});}
 function create(){var h={"Upload-Complete":"?0","Upload-Length":String(file.size)};if(!overwrite){h["If-None-Match"]="*";}
  x("PUT",dir+enc(rel),h,null,function(r){if(stop){return;}
   if(r===null||r.status===0||r.status>=500){tries++;if(tries>120){end(false,"not sent");return;}setTimeout(create,1000);return;}
   if(r.status===412&&!overwrite){li.remove();if(confirm(rel+" exists. Replace it?")){bigput(file,rel,true).then(resolve);}else{resolve(false);}return;}
   if(r.status!==201){end(false,r.status+" "+r.statusText);return;}
   loc=hdr(r,"Location");localStorage.setItem(key,loc);send(0);});}
 cancel.onclick=function(){stop=true;if(cur){cur.abort();}localStorage.removeItem(key);
  if(loc){var d=new XMLHttpRequest();d.open("DELETE",loc);d.send();}end(false,"cancelled");};
 loc=localStorage.getItem(key);if(loc){offset();}else{create();}});}
function put(file,rel,overwrite){if(file.size>PART){return bigput(file,rel,overwrite);}return digest(file).then(function(d){return new Promise(function(resolve){
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
  var href=a.getAttribute("href"),isdir=href.endsWith("/")?"1":"0",t=document.querySelector("table"),can=((t&&t.dataset.can)||"").split(" ");
  [["ren","Rename"],["mv","Move"],["del","Delete"]].filter(function(c){return can.indexOf(c[0])>=0;}).forEach(function(c){var b=document.createElement("button");
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
if(files){files.onchange=function(){send(Array.from(files.files).map(function(f){return [f,f.name];}));};}
if(folder){folder.onchange=function(){send(Array.from(folder.files).map(function(f){return [f,f.webkitRelativePath||f.name];}));};}
function walk(entry,prefix,out){return new Promise(function(done){
 if(entry.isFile){entry.file(function(f){out.push([f,prefix+f.name]);done();},function(){done();});}
 else if(entry.isDirectory){var r=entry.createReader(),all=[];
  var next=function(){r.readEntries(function(es){if(es.length){all=all.concat(Array.from(es));next();return;}
   var p=Promise.resolve();all.forEach(function(e){p=p.then(function(){return walk(e,prefix+entry.name+"/",out);});});p.then(done);},function(){done();});};
  next();}
 else{done();}});}
if(files){document.addEventListener("dragover",function(e){e.preventDefault();document.body.classList.add("drop");});
document.addEventListener("dragleave",function(){document.body.classList.remove("drop");});
document.addEventListener("drop",function(e){e.preventDefault();document.body.classList.remove("drop");
 var out=[],p=Promise.resolve();Array.from(e.dataTransfer.items).forEach(function(it){
  var en=it.webkitGetAsEntry&&it.webkitGetAsEntry();
  if(en){p=p.then(function(){return walk(en,"",out);});}else{var f=it.getAsFile();if(f){out.push([f,f.name]);}}});
 p.then(function(){send(out);});});}
})();"#;

pub(super) fn sha256_b64(s: &str) -> String {
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
         connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        sha256_b64(STYLE),
        sha256_b64(SCRIPT),
        sha256_b64(TIME_SCRIPT)
    )
}

/// The icons, drawn once as SVG symbols and used by each row (inline
/// SVG, so no image request and no font needed).
pub(super) const ICONS: &str = "<svg class=\"sprite\" width=\"0\" height=\"0\" aria-hidden=\"true\">\
<symbol id=\"i-d\" viewBox=\"0 0 24 24\"><path d=\"M2 6a2 2 0 0 1 2-2h5l2 2h9a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2z\"/></symbol>\
<symbol id=\"i-f\" viewBox=\"0 0 24 24\"><path d=\"M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2z\"/>\
<path d=\"M14 2v6h6\" fill=\"none\" stroke=\"#fff\" stroke-width=\"1.2\" opacity=\".7\"/></symbol></svg>";
