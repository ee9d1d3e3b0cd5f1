#include "config.h"

#include "handlers.h"
#include "req.h"

int
h_templates_create(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_templates_list(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_template_deploy(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_template_save(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_template_edit(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_template_delete(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

