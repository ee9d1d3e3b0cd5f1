"""to-oci.py LEGACY.tar OUT.tar: rewrite a legacy `docker save` tarball in
the layout newer Docker writes (oci-layout, index.json and blobs/sha256/,
plus a manifest.json naming the blobs), which the daemon loads as well."""
import hashlib
import io
import json
import sys
import tarfile

src, dst = sys.argv[1], sys.argv[2]
blobs = {}


def add(data):
    digest = hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return digest


with tarfile.open(src) as t:
    man = json.load(t.extractfile("manifest.json"))[0]
    config = t.extractfile(man["Config"]).read()
    layers = [t.extractfile(name).read() for name in man["Layers"]]
config_digest = add(config)
layer_digests = [add(layer) for layer in layers]
manifest = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": "sha256:" + config_digest, "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": "sha256:" + d, "size": len(blobs[d])}
               for d in layer_digests],
}).encode()
manifest_digest = add(manifest)
tags = man.get("RepoTags") or []
annotations = {"io.containerd.image.name": tags[0]} if tags else {}
index = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "digest": "sha256:" + manifest_digest,
                   "size": len(manifest), "annotations": annotations}],
}).encode()
docker_manifest = json.dumps([{
    "Config": "blobs/sha256/" + config_digest,
    "RepoTags": tags or None,
    "Layers": ["blobs/sha256/" + d for d in layer_digests],
}]).encode()
with tarfile.open(dst, "w") as out:
    def put(name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        out.addfile(info, io.BytesIO(data))
    put("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
    put("index.json", index)
    put("manifest.json", docker_manifest)
    for digest, data in blobs.items():
        put("blobs/sha256/" + digest, data)
