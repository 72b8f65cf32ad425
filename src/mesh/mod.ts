/**
 * The stack mesh: a stack's services reach each other at their compose names on any node
 * (see mesh.ts), between nodes through a mutual-TLS tunnel (tunnel.ts).
 * @module
 */
export { Mesh, MESH_CONNECTIONS_METRIC, type MeshOptions } from "./mesh.ts";
export { createStackNetworks, type StackNetwork, type StackNetworks } from "./networks.ts";
export { type HostAddresses, loopbackAddresses } from "./host_addresses.ts";
export { relayWithRest, type TunnelDial, TunnelServer } from "./tunnel.ts";
export { type NodeIdentity, TunnelAuth } from "./tunnel_auth.ts";
export { isVirtualAddress, virtualAddress } from "./address.ts";
