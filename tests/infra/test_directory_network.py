"""SPEC 13 deployed: the functions that talk to the directory run in the operator's subnets
with a security group, the VPC endpoints of the AWS services they call are made, and nothing
of it exists (or is granted) in `portal` mode. (cfn-lint checks the whole template in
tests/infra/test_template.py.)"""
from __future__ import annotations

from infra import template


def merged():
    return template.merge_template("prod")


def test_the_template_takes_the_subnets_and_the_security_group():
    found = merged()
    for name in ("DirectoryVpcId", "DirectorySubnetIds", "DirectorySecurityGroupId",
                 "DirectoryRouteTableIds", "DirectoryVpcEndpoints"):
        assert name in found["Parameters"]
    # Empty by default: portal mode deploys exactly as before.
    assert found["Parameters"]["DirectoryVpcId"]["Default"] == ""
    assert found["Conditions"]["InDirectoryVpc"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "DirectoryVpcId"}, ""]}]}


def test_only_the_functions_that_ask_the_directory_are_placed_in_the_vpc():
    resources = merged()["Resources"]
    for logical in ("APIHandler", "SendReminders"):
        config = resources[logical]["Properties"]["VpcConfig"]["Fn::If"]
        assert config[0] == "InDirectoryVpc"
        assert config[1] == {"SubnetIds": {"Ref": "DirectorySubnetIds"},
                             "SecurityGroupIds": [{"Ref": "DirectorySecurityGroupId"}]}
        assert config[2] == {"Ref": "AWS::NoValue"}
    assert "VpcConfig" not in resources["DeliverSms"]["Properties"]
    assert "ManagedPolicyArns" not in resources.get("DeliverSmsRole", {}).get("Properties", {})


def test_the_eni_grant_is_the_narrow_managed_policy_and_only_in_the_vpc():
    resources = merged()["Resources"]
    for role in ("ApiHandlerRole", "SendRemindersRole"):
        condition, granted, otherwise = resources[role]["Properties"]["ManagedPolicyArns"][
            "Fn::If"]
        assert condition == "InDirectoryVpc" and otherwise == {"Ref": "AWS::NoValue"}
        assert [arn["Fn::Sub"].rsplit("/", 1)[1] for arn in granted] == [
            "AWSLambdaENIManagementAccess"]


def test_every_service_the_functions_call_has_an_endpoint():
    resources = merged()["Resources"]
    endpoints = {r["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1]:
                 (name, r) for name, r in resources.items()
                 if r.get("Type") == "AWS::EC2::VPCEndpoint"}
    assert set(endpoints) == {"dynamodb", "sqs", "ssm", "sns", "logs"}
    for service, (name, endpoint) in endpoints.items():
        assert endpoint["Condition"] == "MakesVpcEndpoints", name
        kind = endpoint["Properties"]["VpcEndpointType"]
        assert kind == ("Gateway" if service == "dynamodb" else "Interface")
        if kind == "Interface":
            assert endpoint["Properties"]["PrivateDnsEnabled"] is True
            assert endpoint["Properties"]["SecurityGroupIds"] == [
                {"Ref": "VpcEndpointSecurityGroup"}]
    group = resources["VpcEndpointSecurityGroup"]["Properties"]
    assert group["SecurityGroupIngress"] == [{
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
        "SourceSecurityGroupId": {"Ref": "DirectorySecurityGroupId"},
        "Description": "the portal's functions"}]


def test_make_deploy_passes_the_network_or_says_what_is_missing():
    from argparse import Namespace

    import pytest

    from infra.deploy import DeployError, directory_network

    def options(**given):
        base = dict(directory_vpc_id="", directory_subnet_ids="",
                    directory_security_group_id="", directory_route_table_ids="",
                    directory_vpc_endpoints="create")
        return Namespace(**{**base, **given})

    assert directory_network(options())["DirectoryVpcId"] == ""  # portal mode: no VPC
    given = directory_network(options(
        directory_vpc_id="vpc-0abc", directory_subnet_ids="subnet-1,subnet-2",
        directory_security_group_id="sg-0123", directory_route_table_ids="rtb-1"))
    assert given == {"DirectoryVpcId": "vpc-0abc", "DirectorySubnetIds": "subnet-1,subnet-2",
                     "DirectorySecurityGroupId": "sg-0123", "DirectoryRouteTableIds": "rtb-1",
                     "DirectoryVpcEndpoints": "create"}
    with pytest.raises(DeployError, match="subnet"):
        directory_network(options(directory_vpc_id="vpc-0abc"))
    with pytest.raises(DeployError, match="route-table"):
        directory_network(options(directory_vpc_id="vpc-0abc", directory_subnet_ids="s",
                                  directory_security_group_id="sg-1"))
