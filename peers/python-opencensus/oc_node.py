"""The OpenCensus agent protocol's Node message, as both exporters here send it, in the JSON the senders print."""


def node_json(node):
    ident, lib = node.identifier, node.library_info
    return {
        'hostName': ident.host_name,
        'pid': ident.pid,
        'startTimeUnixNano': str(ident.start_timestamp.ToNanoseconds()),
        'language': lib.Language.Name(lib.language),
        'exporterVersion': lib.exporter_version,
        'coreLibraryVersion': lib.core_library_version,
        'serviceName': node.service_info.name,
    }
