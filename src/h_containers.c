#include "config.h"

#include "handlers.h"
#include "req.h"

int
h_containers_list(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_containers_create(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_container_get(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_container_patch(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_container_delete(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_build_get(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_docker_list(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_docker_create(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_docker_get(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_docker_delete(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

